"""The camera tests: make this directory's helper module importable (the suite runs with
--import-mode=importlib). Broker and central are the shared fixtures (tests/fixtures/)."""

from __future__ import annotations

import sys
from pathlib import Path

if str(Path(__file__).parent) not in sys.path:
    sys.path.append(str(Path(__file__).parent))
