"""Fixtures of the escalation tests (see escalation_kit.py)."""

import sys
from pathlib import Path

# The suite runs with --import-mode=importlib: make this directory's helper importable.
if str(Path(__file__).parent) not in sys.path:
    sys.path.append(str(Path(__file__).parent))

from escalation_kit import escalating_central, fake_modem  # noqa: E402

__all__ = ["escalating_central", "fake_modem"]
