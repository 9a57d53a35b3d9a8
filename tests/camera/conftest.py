"""Fixtures for the camera tests: real Mosquitto, real `alarmlink central serve`."""

from __future__ import annotations

import sys
from pathlib import Path

# The suite runs with --import-mode=importlib: make this directory's helper importable.
if str(Path(__file__).parent) not in sys.path:
    sys.path.append(str(Path(__file__).parent))




