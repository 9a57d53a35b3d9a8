"""pyproject.toml lists its packages by hand (two are mapped data folders): none missing."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parent.parent


def test_every_python_package_is_listed_for_the_wheel() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(project["tool"]["setuptools"]["packages"])
    found = set(find_packages(str(ROOT), include=[
        "alarmlink", "alarmlink.*", "alarmlink_tools", "alarmlink_tools.*",
        "edge_agent", "edge_agent.*", "central", "central.*", "simulators", "simulators.*"]))
    missing = sorted(found - listed)
    assert not missing, f"add these to [tool.setuptools] packages in pyproject.toml: {missing}"
