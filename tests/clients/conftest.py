"""The client suites share the Athena test tables of tests/localaws (athena_tables.Shop)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "localaws"))
