"""The agent refuses a failover key others can read, a missing one, or a short one: one line
with the cause and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from alarmlink.config_base import ConfigError
from edge_agent.failover import read_key


def test_key_file_must_be_private_present_and_long_enough(tmp_path: Path) -> None:
    key = tmp_path / "failover.key"
    with pytest.raises(ConfigError, match="cannot read.*failover-key"):
        read_key(key)
    key.write_text("a" * 64 + "\n")
    key.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        read_key(key)
    key.chmod(0o600)
    assert read_key(key) == b"a" * 64
    key.write_text("short")
    with pytest.raises(ConfigError, match="shorter than 16"):
        read_key(key)
