"""Query results and pandas answers as comparable rows: NULL-like values are None, floats rounded, numpy unwrapped."""

from __future__ import annotations

import math
from decimal import Decimal

import pandas as pd


def normal(value):
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, Decimal):
        return value if value == value.to_integral_value() else round(float(value), 6)
    if hasattr(value, "item") and not isinstance(value, (list, dict, tuple)):
        value = value.item()
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, (list, tuple)):
        return tuple(normal(v) for v in value)
    return value


def rows(frame_or_rows) -> list[tuple]:
    if isinstance(frame_or_rows, pd.DataFrame):
        records = frame_or_rows.astype(object).itertuples(index=False, name=None)
    else:
        records = frame_or_rows
    return [tuple(normal(v) for v in row) for row in records]


def sorted_rows(found: list[tuple]) -> list[tuple]:
    """Rows in a canonical order, for queries without ORDER BY."""
    return sorted(found, key=lambda row: tuple((v is None, str(v)) for v in row))
