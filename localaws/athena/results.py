"""Query results as Athena writes them: values as text, the CSV file and its metadata, GetQueryResults rows.

https://docs.aws.amazon.com/athena/latest/ug/querying.html (result files): a SELECT writes <id>.csv (a header row,
every value double-quoted, NULL as an empty unquoted field) and <id>.csv.metadata; SHOW and DESCRIBE write <id>.txt
(tab-separated, no header). Athena's .metadata file is a binary protobuf of the column info; localaws writes the
same ColumnInfo list as JSON, which no client reads (pyathena and the SDKs take ColumnInfo from GetQueryResults).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from dataclasses import dataclass

import pyarrow as pa

from localaws.athena.athena_types import ZONED_FIELDS, column_info


def java_double(value: float) -> str:
    """A double as Trino prints it (Java's Double.toString): 2.5, 1.0E7, 1.0E-4, NaN, Infinity."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1, value) < 0 else "0.0"
    if 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "." in text or "e" in text else text + ".0"
    sign, digits, exponent = decimal.Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) + exponent - 1
    mantissa = text[0] + "." + (text[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{power}"


def trino_interval(months: int, days: int, nanoseconds: int) -> str:
    """An interval as Trino prints it: YEAR TO MONTH as 'years-months' (1-2), DAY TO SECOND as
    'days hh:mm:ss.SSS' (1 00:00:03.000), a minus sign before either. DuckDB's interval is months, days and
    nanoseconds; only months means a year-to-month interval (Trino has no interval mixing the two)."""
    if months and not days and not nanoseconds:
        sign = "-" if months < 0 else ""
        return f"{sign}{abs(months) // 12}-{abs(months) % 12}"
    millis = int((months * 30 + days) * 86_400_000 + int(nanoseconds / 1_000_000))
    sign = "-" if millis < 0 else ""
    days, rest = divmod(abs(millis), 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{sign}{days} {hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def format_value(value, dtype: pa.DataType | None = None, nested: bool = False) -> str | None:
    """The text Athena shows for a value; None stays None (NULL). Nested NULLs print as 'null'."""
    if value is None:
        return "null" if nested else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")  # Trino prints every digit of the scale: 0.00, never 0E-2
    if isinstance(value, dict) and tuple(value) == ZONED_FIELDS:
        # A TIMESTAMP WITH TIME ZONE outside UTC: its local date-time and zone (functions/timezones.py).
        _, local, zone = (value[name] for name in ZONED_FIELDS)
        return None if local is None else f"{format_value(local)} {zone}"
    if isinstance(value, dt.datetime):
        # Three digits (Athena's timestamp(3)); six when the value carries microseconds (timestamp(6)).
        fraction = f"{value.microsecond // 1000:03d}" if value.microsecond % 1000 == 0 else f"{value.microsecond:06d}"
        text = value.strftime("%Y-%m-%d %H:%M:%S.") + fraction
        return f"{text} UTC" if value.tzinfo is not None else text
    if isinstance(value, tuple) and hasattr(value, "nanoseconds"):  # pyarrow's MonthDayNano
        return trino_interval(value.months, value.days, value.nanoseconds)
    if isinstance(value, dt.timedelta):
        return trino_interval(0, value.days, (value.seconds * 1_000_000 + value.microseconds) * 1000)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return " ".join(f"{byte:02x}" for byte in value)
    if dtype is not None and pa.types.is_map(dtype):
        pairs = (f"{format_value(k, dtype.key_type, True)}={format_value(v, dtype.item_type, True)}" for k, v in value)
        return "{" + ", ".join(pairs) + "}"
    if isinstance(value, list):
        item_type = dtype.value_type if dtype is not None and hasattr(dtype, "value_type") else None
        return "[" + ", ".join(format_value(item, item_type, True) for item in value) + "]"
    if isinstance(value, dict):
        members = {f.name: f.type for f in dtype} if dtype is not None and pa.types.is_struct(dtype) else {}
        return "{" + ", ".join(f"{k}={format_value(v, members.get(k), True)}" for k, v in value.items()) + "}"
    return str(value)


@dataclass
class ResultSet:
    """Column info plus every row as text; `header` says whether GetQueryResults starts with the column names."""

    columns: list[dict]
    rows: list[list[str | None]]
    header: bool = True
    text_output: bool = False  # SHOW/DESCRIBE write <id>.txt

    @classmethod
    def from_arrow(cls, table: pa.Table) -> ResultSet:
        columns = [column_info(field.name, field.type) for field in table.schema]
        values = [
            [format_value(v, field.type) for v in column.to_pylist()]
            for field, column in zip(table.schema, table.columns, strict=True)
        ]
        for info, field, column in zip(columns, table.schema, table.columns, strict=True):
            if pa.types.is_interval(field.type) and _year_to_month(column.to_pylist()):
                info["Type"] = "interval year to month"
        rows = [list(row) for row in zip(*values, strict=True)] if values else []
        return cls(columns, rows)

    @classmethod
    def text(cls, name: str, lines: list[str]) -> ResultSet:
        """A one-column varchar result of a utility statement (SHOW TABLES, DESCRIBE, EXPLAIN ...)."""
        return cls([column_info(name, pa.string())], [[line] for line in lines], header=False, text_output=True)

    @property
    def extension(self) -> str:
        return "txt" if self.text_output else "csv"

    def csv_bytes(self) -> bytes:
        if self.text_output:
            return "".join("\t".join(v or "" for v in row) + "\n" for row in self.rows).encode()
        lines = [",".join(_quote(c["Name"]) for c in self.columns)]
        lines += [",".join("" if v is None else _quote(v) for v in row) for row in self.rows]
        return ("\n".join(lines) + "\n").encode()

    def metadata_bytes(self) -> bytes:
        return json.dumps({"ColumnInfo": self.columns}, indent=1).encode()

    def api_rows(self) -> list[dict]:
        """GetQueryResults' ResultSet.Rows; a SELECT's first row holds the column names, as Athena's does."""
        rows = [{"Data": [{"VarCharValue": c["Name"]} for c in self.columns]}] if self.header else []
        rows += [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in self.rows]
        return rows


def _year_to_month(values: list) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(v.months and not v.days and not v.nanoseconds for v in present)


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'
