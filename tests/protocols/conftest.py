"""Fixtures of the protocol codec tests.

The suite runs with --import-mode=importlib: make this directory's helper module
(protocol_helpers) importable, and the repository too when run from a plain checkout.
"""

from __future__ import annotations

import sys
from pathlib import Path

if str(Path(__file__).parent) not in sys.path:
    sys.path.append(str(Path(__file__).parent))
