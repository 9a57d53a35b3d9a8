"""The DC-09 key file (shared with the agent): :mod:`alarmlink.dc09_keys`."""

from alarmlink.dc09_keys import KeyFileError, load_keys

__all__ = ["KeyFileError", "load_keys"]
