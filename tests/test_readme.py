"""The README stays true: quick start commands, CI wiring and every topic example."""

from __future__ import annotations

import json
from pathlib import Path

from alarmlink import wire

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
#: The reference moved out of the README (issue 14); the topics live there.
REFERENCE = (ROOT / "docs" / "reference.md").read_text()


def test_quick_start_commands_exist_and_ci_runs_the_test_command() -> None:
    assert "./scripts/demo" in README and "./scripts/test" in README
    for script in ("scripts/demo", "scripts/test"):
        assert (ROOT / script).stat().st_mode & 0o111, f"{script} is not executable"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./scripts/test" in ci


def test_every_json_topic_is_documented_with_its_example_payload() -> None:
    for channel, example in wire.example_payloads().items():
        assert f"dev/{{device_id}}/{channel}`" in REFERENCE, f"topic {channel} missing"
        assert json.dumps(example) in REFERENCE, f"example payload for {channel} is out of date"
    assert "dev/{device_id}/snapshot/{event_id}`" in REFERENCE
