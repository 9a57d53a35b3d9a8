"""The edge agent's tests: make this directory's helper module importable.

The suite runs with --import-mode=importlib. Appended, not prepended: a directory at
the front of sys.path would shadow the shared tests/conftest.py for every
`from conftest import ...` in the suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

if str(Path(__file__).parent) not in sys.path:
    sys.path.append(str(Path(__file__).parent))
