"""Files shipped inside the package: venue templates, hardware profiles, scenarios, units.

In the repository they are the top-level folders ``firmware_configs/`` and ``systemd/``;
``pyproject.toml`` maps them into the package as ``alarmlink_tools/firmware_configs`` and
``alarmlink_tools/systemd``, so that a wheel carries them. An editable install
(``pip install -e``) or a plain checkout does not have that copy, so there the
repository's own folders are used. Code reads these files only through this module, so
the same call works from a checkout, an editable install and an installed wheel.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def _folder(name: str) -> Path:
    installed = Path(str(importlib.resources.files("alarmlink_tools"))) / name
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[1] / name  # checkout / editable install


def firmware_configs() -> Path:
    """The folder of venue templates (``<kind>.toml``), ``profiles/`` and ``scenarios/``."""
    return _folder("firmware_configs")


def systemd_units() -> Path:
    """The folder of systemd units and the Mosquitto drop-in."""
    return _folder("systemd")
