"""Partition projection: with `projection.enabled` the partitions are computed from table properties, not read from
Glue (whatever Glue holds is ignored), then pruned by the query's filters like registered ones.

https://docs.aws.amazon.com/athena/latest/ug/partition-projection.html and
https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html:
- `projection.<col>.type` = `date` (`range` 'start,end' with fixed dates in `format` or `NOW[+-N<UNIT>]`, `format` a
  Java date pattern, `interval` default 1, `interval.unit` default DAYS), `integer` (`range`, `interval`, `digits`),
  `enum` (`values`) or `injected` (the values the WHERE clause gives by equality; a query without one fails with
  CONSTRAINT_VIOLATION);
- `storage.location.template`: the folder of a partition, `${col}` replaced by its value; by default
  `<table location>/col=value/...`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import re

from sqlglot import exp, parse_one
from sqlglot.errors import SqlglotError

from localaws.athena.catalog import Table
from localaws.athena.errors import QueryFailed

MAX_PARTITIONS = 1_000_000  # localaws' bound on what it enumerates before pruning
_JAVA_TO_STRFTIME = {"yyyy": "%Y", "yy": "%y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
_PARSE_ONLY = {"SSSSSS": "%f", "SSS": "%f", "SS": "%f", "S": "%f", "ZZ": "%z", "Z": "%z", "XXX": "%z", "X": "%z"}
_UNITS = {"YEARS", "MONTHS", "WEEKS", "DAYS", "HOURS", "MINUTES", "SECONDS"}


def enabled(table: Table) -> bool:
    parameters = {k.lower(): v for k, v in table.raw.get("Parameters", {}).items()}
    return parameters.get("projection.enabled", "").strip().lower() == "true"


def _property(parameters: dict[str, str], name: str, required: bool = True) -> str | None:
    value = parameters.get(name.lower())
    if value is None and required:
        raise QueryFailed(f"HIVE_METASTORE_ERROR: Table property '{name}' is required by partition projection")
    return value.strip() if value is not None else None


def strftime_pattern(java: str, parsing: bool = False) -> str:
    """A Java/Joda date pattern (yyyy-MM-dd, yyyy/MM/dd/HH, 'T' quoted) as strftime's; `parsing` also takes fractions
    of a second (S...) and zone offsets (Z, ZZ, X...), which only strptime can honour."""
    tokens = {**_JAVA_TO_STRFTIME, **(_PARSE_ONLY if parsing else {})}
    out, index = "", 0
    while index < len(java):
        if java[index] == "'":
            end = java.index("'", index + 1)
            out += java[index + 1 : end].replace("%", "%%") or "'"
            index = end + 1
            continue
        token = next((t for t in tokens if java.startswith(t, index)), None)
        if token:
            out += tokens[token]
            index += len(token)
        elif java[index].isalpha():
            raise QueryFailed(f"NOT_SUPPORTED: localaws cannot project the date format '{java}'")
        else:
            out += java[index].replace("%", "%%")
            index += 1
    return out


def _shift(moment: dt.datetime, amount: int, unit: str) -> dt.datetime:
    if unit in ("YEARS", "MONTHS"):
        months = moment.month - 1 + amount * (12 if unit == "YEARS" else 1)
        year, month = moment.year + months // 12, months % 12 + 1
        return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))
    return moment + dt.timedelta(**{unit.lower(): amount})


def _moment(text: str, pattern: str, now: dt.datetime) -> dt.datetime:
    relative = re.fullmatch(r"NOW\s*(?:([+-])\s*(\d+)\s*([A-Z]+))?", text.strip().upper())
    if relative:
        if not relative.group(1):
            return now
        unit = relative.group(3) if relative.group(3).endswith("S") else relative.group(3) + "S"
        if unit not in _UNITS:
            raise QueryFailed(f"HIVE_METASTORE_ERROR: Invalid partition projection range '{text}'")
        sign = 1 if relative.group(1) == "+" else -1
        return _shift(now, sign * int(relative.group(2)), unit)
    try:
        return dt.datetime.strptime(text.strip(), pattern)
    except ValueError:
        raise QueryFailed(f"HIVE_METASTORE_ERROR: Invalid partition projection range '{text}'") from None


def _dates(parameters: dict[str, str], column: str, now: dt.datetime) -> list[str]:
    pattern = strftime_pattern(_property(parameters, f"projection.{column}.format"))
    bounds = _property(parameters, f"projection.{column}.range").split(",")
    start, end = (_moment(part, pattern, now) for part in bounds)
    interval = int(_property(parameters, f"projection.{column}.interval", False) or 1)
    unit = (_property(parameters, f"projection.{column}.interval.unit", False) or "DAYS").upper()
    values, moment = [], start
    while moment <= end and len(values) <= MAX_PARTITIONS:
        values.append(moment.strftime(pattern))
        moment = _shift(moment, interval, unit)
    return values


def _integers(parameters: dict[str, str], column: str) -> list[str]:
    low, high = (int(part) for part in _property(parameters, f"projection.{column}.range").split(","))
    interval = int(_property(parameters, f"projection.{column}.interval", False) or 1)
    digits = int(_property(parameters, f"projection.{column}.digits", False) or 0)
    if (high - low) // interval > MAX_PARTITIONS:
        raise QueryFailed(f"NOT_SUPPORTED: localaws enumerates at most {MAX_PARTITIONS} projected partitions")
    return [str(n).zfill(digits) if n >= 0 else "-" + str(-n).zfill(digits) for n in range(low, high + 1, interval)]


def _injected(column: str, filters: list[list[str] | None]) -> list[str]:
    """The values a query's WHERE gives an injected column (`col = 'v'` or `col IN (...)`), in every reference."""
    values: set[str] = set()
    for conjuncts in filters:
        found = set()
        for text in conjuncts or []:
            try:
                term = parse_one(text, read="duckdb")
            except SqlglotError:
                continue
            if isinstance(term, exp.EQ) and _is(term.this, column) and isinstance(term.expression, exp.Literal):
                found.add(term.expression.this)
            elif isinstance(term, exp.In) and _is(term.this, column):
                found |= {e.this for e in term.expressions if isinstance(e, exp.Literal)}
        if not found:
            raise QueryFailed(
                f"CONSTRAINT_VIOLATION: For the injected projected partition column {column}, the WHERE clause must "
                "contain only static equality conditions, and at least one such condition must be present."
            )
        values |= found
    return sorted(values)


def _is(node: exp.Expression, column: str) -> bool:
    return isinstance(node, exp.Column) and node.name.lower() == column


def partitions(
    table: Table, filters: list[list[str] | None], now: dt.datetime | None = None
) -> list[tuple[dict[str, str], str]]:
    """Every projected partition as (values by column, folder), before the query's filters prune them."""
    parameters = {k.lower(): v for k, v in table.raw.get("Parameters", {}).items()}
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    keys = [k["Name"].lower() for k in table.partition_keys]
    domains = []
    for column in keys:
        kind = (_property(parameters, f"projection.{column}.type") or "").lower()
        if kind == "date":
            domains.append(_dates(parameters, column, now))
        elif kind == "integer":
            domains.append(_integers(parameters, column))
        elif kind == "enum":
            domains.append(_property(parameters, f"projection.{column}.values").split(","))
        elif kind == "injected":
            domains.append(_injected(column, filters))
        else:
            raise QueryFailed(f"HIVE_METASTORE_ERROR: Unsupported partition projection type '{kind}' for {column}")
    total = 1
    for domain in domains:
        total *= len(domain)
    if total > MAX_PARTITIONS:
        raise QueryFailed(f"NOT_SUPPORTED: localaws enumerates at most {MAX_PARTITIONS} projected partitions")
    template = _property(parameters, "storage.location.template", False)
    result = []
    for combination in itertools.product(*domains):
        values = dict(zip(keys, combination, strict=True))
        if template:
            folder = re.sub(r"\$\{(\w+)\}", lambda m, v=values: v.get(m[1].lower(), m[0]), template)
        else:
            folder = table.location.rstrip("/") + "/" + "".join(f"{k}={v}/" for k, v in values.items())
        result.append((values, folder))
    return result
