"""The zone of every TIMESTAMP WITH TIME ZONE expression, known when the query is translated.

https://trino.io/docs/current/language/types.html#timestamp-with-time-zone: a value is an instant and a zone (an IANA
name or an offset), and Trino shows it, and reads its fields, in that zone. DuckDB's TIMESTAMPTZ keeps the instant
only, so the translation carries the zone (see functions/timezones.py for how it is used). `annotate` records on each
node that makes or passes on a zoned value its zone in `node.meta[ZONE]`:
- a zone Trino names: 'UTC', '+07:09', 'America/New_York' (zone_key normalises the id as Trino's TimeZoneKey does);
- UNKNOWN where the zone cannot be known here (a zoned column of a subquery, from_iso8601_timestamp of a column);
- MIXED where values of several zones meet (an ARRAY or a CASE of them).
A query with no zone other than UTC keeps UTC everywhere (UNKNOWN becomes UTC, as localaws always answered). A query
with another zone is checked: a zoned value may only reach what localaws translates with its zone (`check`); anything
else fails with NOT_SUPPORTED instead of answering in the wrong zone.
"""

from __future__ import annotations

import re
import zoneinfo

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope

from localaws.athena.errors import QueryFailed

T = exp.DataType.Type
ZONE = "trino_zone"
UTC = "UTC"
UNKNOWN = "?"
MIXED = "*"
ZONED_TYPES = {T.TIMESTAMPTZ, T.TIMESTAMPLTZ}

_UTC_NAMES = {"utc", "z", "ut", "uct", "gmt", "gmt0", "greenwich", "universal", "zulu"}
_OFFSET = re.compile(r"^([+-])(\d{1,2})(?::?(\d{2}))?$")
_NAMED = {name.lower(): name for name in zoneinfo.available_timezones()}
_MAX_OFFSET_MINUTES = 14 * 60
# A timestamp literal's text: the local date-time, then (optionally, after spaces) its zone.
_LITERAL = re.compile(r"^\s*(\d{4,}-\d{1,2}-\d{1,2}(?: \d{1,2}:\d{1,2}(?::\d{1,2}(?:\.\d+)?)?)?)\s*(\S*)\s*$")


def not_supported(message: str) -> QueryFailed:
    return QueryFailed(f"NOT_SUPPORTED: {message}")


def offset_key(minutes: int) -> str:
    """The zone of a fixed offset as Trino names it: 0 -> UTC, 429 -> +07:09; beyond +-14:00 fails."""
    if abs(minutes) > _MAX_OFFSET_MINUTES:
        raise QueryFailed(f"INVALID_FUNCTION_ARGUMENT: Invalid offset minutes {minutes}")
    if minutes == 0:
        return UTC
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def zone_key(text: str) -> str:
    """Trino's zone for a zone id (its TimeZoneKey): UTC for UTC's synonyms, +HH:MM for an offset ('+7', '-0530',
    'GMT+3'; POSIX's Etc/GMT+3 is -03:00), else the IANA name in its own case. Unknown ids fail with
    INVALID_FUNCTION_ARGUMENT."""
    zone = text.strip().lower()
    etc = zone.startswith("etc/")
    zone = zone[4:] if etc else zone
    if zone in _UTC_NAMES:
        return UTC
    offset = zone
    for prefix in ("utc", "gmt", "ut"):
        if zone.startswith(prefix) and zone[len(prefix) : len(prefix) + 1] in ("+", "-"):
            offset = zone[len(prefix) :]
            break
    match = _OFFSET.match(offset)
    if match:
        hours, minutes = int(match[2]), int(match[3] or 0)
        if hours > 14 or minutes > 59:
            raise QueryFailed(f"INVALID_FUNCTION_ARGUMENT: Time zone not supported: {text}")
        sign = -1 if match[1] == "-" else 1
        if etc and offset is not zone:
            sign = -sign  # POSIX: Etc/GMT+3 is three hours behind UTC
        return offset_key(sign * (hours * 60 + minutes))
    named = _NAMED.get(text.strip().lower())
    if named is None:
        raise QueryFailed(f"INVALID_FUNCTION_ARGUMENT: Time zone not supported: {text}")
    return named


def split_literal(text: str) -> tuple[str, str | None] | None:
    """(local date-time text, zone or None) of a timestamp literal's text, or None if it is not one."""
    match = _LITERAL.match(text)
    if not match:
        return None
    local, zone = match[1], match[2]
    return local, (zone_key(zone) if zone else None)


def is_offset(zone: str) -> bool:
    return zone[:1] in ("+", "-")


def zone_of(node: exp.Expression) -> str | None:
    return node.meta.get(ZONE) if node.meta else None


def _interval_zone(node: exp.Interval) -> str | None:
    """AT TIME ZONE INTERVAL '-08:00' HOUR TO MINUTE (or '10' HOUR, '90' MINUTE): the fixed offset it names."""
    unit = node.args.get("unit")
    units = [u.name.upper() for u in ((unit.this, unit.expression) if isinstance(unit, exp.IntervalSpan) else (unit,))]
    text = node.this.this if isinstance(node.this, exp.Literal) else None
    match = re.fullmatch(r"([+-]?)(\d+)(?::(\d+))?", text.strip()) if text else None
    if match is None or units not in (["HOUR"], ["MINUTE"], ["HOUR", "MINUTE"]) or bool(match[3]) != (len(units) == 2):
        return None
    first, second = int(match[2]), int(match[3] or 0)
    minutes = first * 60 + second if units[0] == "HOUR" else first
    return offset_key(-minutes if match[1] == "-" else minutes)


def _literal_zone(node: exp.Expression, function: str) -> str:
    if isinstance(node, exp.Literal) and node.is_string:
        return zone_key(node.this)
    zone = _interval_zone(node) if isinstance(node, exp.Interval) and function == "AT TIME ZONE" else None
    if zone is not None:
        return zone
    raise not_supported(f"localaws needs {function}'s time zone as a literal")


def _integer(node: exp.Expression) -> int | None:
    if isinstance(node, exp.Neg):
        inner = _integer(node.this)
        return None if inner is None else -inner
    if isinstance(node, exp.Literal) and not node.is_string and re.fullmatch(r"\d+", node.this):
        return int(node.this)
    return None


def _common(nodes: list[exp.Expression | None]) -> str | None:
    zones = {zone_of(n) for n in nodes if n is not None} - {None}
    if not zones:
        return None
    return zones.pop() if len(zones) == 1 else MIXED


def _iso8601_zone(node: exp.Expression) -> str:
    if not (isinstance(node, exp.Literal) and node.is_string):
        return UNKNOWN  # read at run time: a UTC text passes, another offset fails (functions/timezones.py)
    match = re.search(r"T[\d:.,]+(Z|[+-]\d{2}(?::?\d{2})?)$", node.this.strip())
    return UTC if match is None or match[1] == "Z" else zone_key(match[1])


def _derived_columns(tree: exp.Expression) -> dict[int, exp.Expression]:
    """id(column) -> the projection of the subquery or CTE it reads, for every column sqlglot's scopes place."""
    try:
        scopes = traverse_scope(tree)
    except SqlglotError:
        return {}
    read = {}
    for scope in scopes:
        for column in scope.columns:
            sources = list(scope.sources.values())
            source = scope.sources.get(column.table) if column.table else (sources[0] if len(sources) == 1 else None)
            if isinstance(source, Scope) and isinstance(source.expression, exp.Select):
                selects = source.expression.expressions
                projection = next((p for p in selects if p.alias_or_name == column.name), None)
                if projection is not None:
                    read[id(column)] = projection
    return read


def _zone(node: exp.Expression, derived: dict[int, exp.Expression]) -> str | None:
    if isinstance(node, exp.Column) and id(node) in derived:
        return zone_of(derived[id(node)])
    if isinstance(node, (exp.Cast, exp.TryCast)):
        if node.to.this not in ZONED_TYPES:
            return None
        value = node.this
        if isinstance(value, exp.Literal) and value.is_string:
            parts = split_literal(value.this)
            return (parts[1] or UTC) if parts else UTC
        return zone_of(value) or UTC
    if isinstance(node, exp.UnixToTime):
        if node.args.get("zone") is not None:
            return _literal_zone(node.args["zone"], "from_unixtime")
        if node.args.get("hours") is not None:
            hours, minutes = _integer(node.args["hours"]), _integer(node.args.get("minutes") or exp.Literal.number(0))
            if hours is None or minutes is None:
                raise not_supported("localaws needs from_unixtime's hours and minutes as literals")
            return offset_key(hours * 60 + minutes)
        return UTC
    if isinstance(node, exp.AtTimeZone):
        return _literal_zone(node.args.get("zone"), "AT TIME ZONE")
    if isinstance(node, exp.Anonymous) and node.name.lower() in ("with_timezone", "at_timezone"):
        return _literal_zone(node.expressions[1], node.name.lower()) if len(node.expressions) == 2 else None
    if isinstance(node, exp.FromISO8601Timestamp):
        return _iso8601_zone(node.this)
    if isinstance(node, exp.CurrentTimestamp) or (isinstance(node, exp.Anonymous) and node.name.lower() == "now"):
        return UTC
    if isinstance(node, (exp.Paren, exp.Alias, exp.TimestampTrunc, exp.DateTrunc, exp.DateAdd, exp.Nullif)):
        return zone_of(node.this)
    if isinstance(node, (exp.Max, exp.Min, exp.AnyValue, exp.Window)):
        return zone_of(node.this)
    if isinstance(node, exp.Sub) and zone_of(node.this) and zone_of(node.expression):
        return None  # the interval between two instants
    if isinstance(node, (exp.Add, exp.Sub)):
        return _common([node.this, node.expression])
    if isinstance(node, (exp.Coalesce, exp.Greatest, exp.Least, exp.Array)):
        return _common([node.this, *node.expressions] if node.this is not None else list(node.expressions))
    if isinstance(node, exp.If):
        return _common([node.args.get("true"), node.args.get("false")])
    if isinstance(node, exp.Case):
        return _common([*node.args.get("ifs", []), node.args.get("default")])
    dtype = node.type
    if isinstance(node, (exp.Column, exp.Subquery)) and dtype is not None and dtype.this in ZONED_TYPES:
        return UNKNOWN
    return None


# Where a zoned value may go in a query with zones other than UTC (besides a node that passes its zone on):
# these use the instant only, or are translated with the value's zone in functions/timezones.py.
INSTANT_USES = (
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.In, exp.Is, exp.NullSafeEQ, exp.NullSafeNEQ,
    exp.Count, exp.Ordered, exp.Group, exp.Distinct, exp.TimeToUnix,
)  # fmt: skip
FIELD_CLASSES = (
    exp.Hour, exp.Minute, exp.Second, exp.Day, exp.DayOfMonth, exp.DayOfWeek, exp.DayOfWeekIso, exp.DayOfYear,
    exp.WeekOfYear, exp.Week, exp.Month, exp.Quarter, exp.Year, exp.YearOfWeek, exp.YearOfWeekIso, exp.Extract,
    exp.LastDay, exp.Date,
)  # fmt: skip
FIELD_NAMES = {
    "millisecond", "yow", "year_of_week", "day_of_week", "dow", "day_of_year", "doy", "day_of_month", "week",
    "week_of_year", "date_format", "format_datetime", "to_iso8601", "timezone_hour", "timezone_minute",
    "last_day_of_month",
}  # fmt: skip
_ZONE_USES = (*FIELD_CLASSES, exp.DateDiff, exp.Cast, exp.TryCast)


def _derived_output(select: exp.Select, name: str, root: exp.Expression, derived: dict) -> bool:
    """Whether a subquery's or CTE's zoned column `name` is read only where its zone is known: every column of that
    name outside it is placed by the scopes (or only compared or sorted, which uses the instant), and no SELECT *
    could show it without its zone."""
    holder = select.parent
    if isinstance(holder, exp.Subquery) and isinstance(holder.parent, INSTANT_USES):
        return len(select.expressions) == 1  # x IN (SELECT zoned), x > (SELECT zoned): instants are compared
    in_from = isinstance(holder, exp.Subquery) and isinstance(holder.parent, (exp.From, exp.Join))
    if not (in_from or isinstance(holder, exp.CTE)):
        return False  # a scalar subquery's value, a UNION branch: the zone is not followed there
    alias = holder.args.get("alias")
    if alias is not None and alias.columns:
        return False  # t(a, b) renames the columns: not followed either
    inside = {id(c) for c in select.find_all(exp.Column)}
    for column in root.find_all(exp.Column):
        placed = id(column) in inside or id(column) in derived or isinstance(column.parent, INSTANT_USES)
        if column.name == name and not placed:
            return False
    stars = (p for s in root.find_all(exp.Select) for p in s.expressions)
    return not any(isinstance(p, exp.Star) or isinstance(p.this, exp.Star) for p in stars)


def _allowed(node: exp.Expression, zone: str, root: exp.Expression, derived: dict) -> bool:
    parent = node.parent
    if parent is None:
        return True
    if isinstance(node.unnest(), exp.Array):  # ARRAY[zoned] = (ARRAY[zoned]) compares instants
        return isinstance(parent, (*INSTANT_USES, exp.Paren))
    if zone_of(parent) is not None and not isinstance(parent, exp.Select):
        return True  # passes the zone on
    if isinstance(parent, INSTANT_USES):
        return True
    if isinstance(parent, exp.Sub) and zone_of(parent.this) and zone_of(parent.expression):
        return True
    if zone in (UNKNOWN, MIXED):
        return False
    if isinstance(parent, _ZONE_USES) or (isinstance(parent, exp.Anonymous) and parent.name.lower() in FIELD_NAMES):
        return True
    if not isinstance(parent, exp.Select) or node.arg_key != "expressions":
        return False
    return parent is root or _derived_output(parent, node.alias_or_name, root, derived)


def annotate(tree: exp.Expression) -> exp.Expression:
    """Record the zone of every zoned expression of the (type-annotated) tree, in place; fail with NOT_SUPPORTED
    (or INVALID_FUNCTION_ARGUMENT for an unknown zone) where another zone than UTC could not be kept."""
    nodes = list(reversed(list(tree.walk())))
    derived = _derived_columns(tree) if tree.find(exp.Subquery, exp.CTE) else {}
    for _ in range(len(nodes)):  # again while a subquery's zones reach the columns that read them
        changed = False
        for node in nodes:
            zone = _zone(node, derived)
            if zone == zone_of(node):
                continue
            changed = True
            if zone is None:
                node.meta.pop(ZONE, None)
            else:
                node.meta[ZONE] = zone
        if not changed:
            break
    zoned = [n for n in nodes if zone_of(n) not in (None, UTC)]
    if all(zone_of(n) in (UNKNOWN, MIXED) for n in zoned):
        for node in zoned:
            node.meta[ZONE] = UTC  # no other zone in the query: UTC throughout, the session zone
        return tree
    for node in zoned:
        if not _allowed(node, zone_of(node), tree, derived):
            if isinstance(node.parent, exp.Select):
                raise not_supported(
                    f"localaws follows a TIMESTAMP WITH TIME ZONE's zone ({zone_of(node)}) out of a subquery or CTE "
                    "only into columns read by name and comparisons (not SELECT *, renamed columns, a scalar "
                    "subquery's value, UNION)"
                )
            where = node.parent.key if node.parent is not None else "the query"
            raise not_supported(
                f"localaws keeps a TIMESTAMP WITH TIME ZONE's zone ({zone_of(node)}) through date/time functions, "
                f"casts, comparisons and the result columns only, not through {where}"
            )
    return tree
