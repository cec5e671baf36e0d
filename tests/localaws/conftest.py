"""Fixtures the localaws suites share. Constants and helpers live in athena_tables.py (a test module cannot import a
conftest: tests/test_suite_imports.py)."""

from __future__ import annotations

import pytest
from athena_tables import Shop


@pytest.fixture(scope="module")
def shop(localaws) -> Shop:
    """The Athena test tables (athena_tables.Shop) on the session's localaws server, one set per test module."""
    return Shop(localaws.endpoint)
