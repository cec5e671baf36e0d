"""TIMESTAMP WITH TIME ZONE in zones other than UTC (https://trino.io/docs/current/functions/datetime.html,
https://trino.io/docs/current/language/types.html#timestamp-with-time-zone).

DuckDB's TIMESTAMPTZ holds the instant; trino_zones records each expression's zone. Where the zone matters:
- fields (hour, day, extract, date_format, format_datetime, casts to TIMESTAMP, DATE and VARCHAR) read the local
  date-time, DuckDB's ICU `timezone(zone, instant)`;
- date_trunc, date_add and interval arithmetic of a day or longer (Trino's zoned chronology) work on the local
  date-time and go back to an instant in the zone (the earlier instant where a local time occurs twice, as
  Joda-Time's convertLocalToUTC); shorter units keep the offset of the instant;
- date_diff of a day or longer counts in the first argument's zone; shorter units count elapsed time;
- comparisons, ORDER BY, GROUP BY and to_unixtime use the instant (Trino compares instants).
A result column in a zone other than UTC leaves DuckDB as STRUCT(trino_instant, trino_local, trino_zone), which
results.py prints as Trino does (`2001-08-22 03:04:05.321 +07:09`) with the type `timestamp with time zone`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from sqlglot import exp

from localaws.athena import trino_types as tt
from localaws.athena import trino_zones as tz
from localaws.athena.athena_types import ZONED_FIELDS
from localaws.athena.errors import QueryFailed
from localaws.athena.functions import REWRITERS, TRANSLATORS, call, cast, key_of, not_supported, template, udf
from localaws.athena.functions.datetime import joda_to_strftime, to_millis

T = exp.DataType.Type
_SUB_DAY = {"MILLISECOND", "SECOND", "MINUTE", "HOUR"}
_TEXT = {T.VARCHAR, T.TEXT, T.CHAR, T.NVARCHAR, T.NCHAR}


@udf("trino_local_to_instant", ["TIMESTAMP", "VARCHAR"], "TIMESTAMPTZ")
def _local_to_instant(local_time: dt.datetime, zone: str) -> dt.datetime:
    # fold=0: of a local time that occurs twice, the earlier instant; in a gap, the offset before it (02:30 on a
    # spring-forward night is 03:30 daylight time), as Joda-Time's convertLocalToUTC answers.
    return local_time.replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(dt.UTC)


def icu_zone(zone: str) -> str:
    """The name DuckDB's ICU knows a zone by (an offset is a custom GMT id)."""
    return f"GMT{zone}" if tz.is_offset(zone) else zone


def needs_zone(node: exp.Expression) -> str:
    """The node's zone where the answer depends on it; NOT_SUPPORTED where the translation does not know it."""
    zone = tz.zone_of(node) or tz.UTC
    if zone in (tz.UNKNOWN, tz.MIXED):
        raise not_supported(
            "localaws knows a TIMESTAMP WITH TIME ZONE's zone only from the expression that sets it; this value's "
            "zone comes through a subquery, from a column's text, or differs between values"
        )
    return zone


def local(value: exp.Expression, zone: str) -> exp.Expression:
    """The local date-time (a DuckDB TIMESTAMP) of an instant in `zone`."""
    if zone == tz.UTC:
        return cast(value, "TIMESTAMP")
    return call("timezone", exp.Literal.string(icu_zone(zone)), value)


def instant(local_time: exp.Expression, zone: str) -> exp.Expression:
    """The instant (a DuckDB TIMESTAMPTZ) of a local date-time in `zone`."""
    if zone == tz.UTC:
        return cast(cast(local_time, "TIMESTAMP"), "TIMESTAMPTZ")
    if tz.is_offset(zone):
        return call("timezone", exp.Literal.string(icu_zone(zone)), cast(local_time, "TIMESTAMP"))
    return call("trino_local_to_instant", cast(local_time, "TIMESTAMP"), exp.Literal.string(zone))


def offset_seconds(value: exp.Expression, zone: str) -> exp.Expression:
    """The zone's offset from UTC at the instant, in seconds."""
    if zone == tz.UTC:
        return exp.Literal.number(0)
    return template("CAST(epoch(:l) - epoch(:i) AS BIGINT)", l=local(value, zone), i=value)


def _precision(node: exp.Expression) -> int:
    dtype = tt.type_of(node)
    if dtype is not None and dtype.expressions and isinstance(dtype.expressions[0].this, exp.Literal):
        return int(dtype.expressions[0].this.this)
    return 3


def _seconds_text(local_time: exp.Expression, digits: int) -> exp.Expression:
    """HH:mm:ss of a local date-time with `digits` of fraction (none for 0), as Trino prints a timestamp(p)."""
    text = call("strftime", local_time, exp.Literal.string("%H:%M:%S"))
    if digits <= 0:
        return text
    fraction = call("strftime", local_time.copy(), exp.Literal.string("%f"))
    fraction = call("substr", fraction, exp.Literal.number(1), exp.Literal.number(min(digits, 6)))
    return exp.DPipe(this=exp.DPipe(this=text, expression=exp.Literal.string(".")), expression=fraction)


def display(value: exp.Expression, zone: str, digits: int = 3) -> exp.Expression:
    """Trino's text of a zoned value of precision `digits`: 'yyyy-MM-dd HH:mm:ss[.fraction] <zone>'."""
    local_time = local(value, zone)
    day = call("strftime", local_time, exp.Literal.string("%Y-%m-%d "))
    text = exp.DPipe(this=day, expression=_seconds_text(local_time.copy(), digits))
    return exp.DPipe(this=text, expression=exp.Literal.string(f" {zone}"))


def output(value: exp.Expression, zone: str) -> exp.Expression:
    """A result column in a zone other than UTC: the instant (first, so that ORDER BY of the column orders instants),
    its local date-time and its zone (athena_types.ZONED_FIELDS; printed by results.format_value)."""
    instant_field, local_field, zone_field = ZONED_FIELDS
    return template(
        f"struct_pack({instant_field} := :i, {local_field} := :l, {zone_field} := :z)",
        i=value,
        l=local(value.copy(), zone),
        z=exp.Literal.string(zone),
    )


def zoned_outputs(root: exp.Expression) -> exp.Expression:
    """The translated query with each result column in a zone other than UTC made an output() struct."""
    if not isinstance(root, exp.Select):
        return root
    for projection in root.expressions:
        target = projection.this if isinstance(projection, exp.Alias) else projection
        zone = tz.zone_of(target) or tz.zone_of(projection)
        if zone is None or zone == tz.UTC:
            continue
        target.replace(output(target.copy(), needs_zone(projection)))
    return root


def _zoned_arguments(node: exp.Expression) -> list[exp.Expression]:
    return [child for child in node.iter_expressions() if tz.zone_of(child) not in (None, tz.UTC)]


def _localize(node: exp.Expression, zone: str | None = None) -> None:
    """Replace each zoned argument of `node` by its local date-time (in its own zone, or in `zone`)."""
    for child in _zoned_arguments(node) if zone is None else [c for c in node.iter_expressions() if tz.zone_of(c)]:
        local_time = local(child.copy(), zone or needs_zone(child))
        local_time.type = exp.DataType.build("TIMESTAMP")
        child.replace(local_time)


def _translated(node: exp.Expression) -> exp.Expression:
    function = TRANSLATORS.get(key_of(node))
    replacement = function(node) if function is not None else None
    return node if replacement is None else replacement


def _unit(node: exp.Expression) -> str:
    unit = node.args.get("unit")
    return unit.name.upper() if unit is not None else "DAY"


def _unexpected(function: str, value: exp.Expression) -> QueryFailed:
    """Trino's answer to a call whose argument has the wrong type (timezone_hour of a TIMESTAMP, with_timezone of a
    TIMESTAMP WITH TIME ZONE): no such function signature."""
    dtype = tt.type_of(value)
    name = "timestamp with time zone" if tz.zone_of(value) else (dtype.sql("trino").lower() if dtype else "unknown")
    return QueryFailed(f"FUNCTION_NOT_FOUND: Unexpected parameters ({name}) for function {function}")


def _timezone_field(value: exp.Expression, field: str) -> exp.Expression:
    """timezone_hour / timezone_minute: the offset's hours and minutes, both with its sign (-07:09 is -7 and -9)."""
    if tz.zone_of(value) is None:
        raise _unexpected(field.lower(), value)
    seconds = offset_seconds(value, needs_zone(value))
    if field == "TIMEZONE_HOUR":
        return template("CAST(trunc(:s / 3600.0) AS BIGINT)", s=seconds)
    return template("CAST(trunc(:s / 60.0) AS BIGINT) % 60", s=seconds)


def _offset_text(value: exp.Expression, zone: str, colon: str, zero: str | None) -> exp.Expression:
    """The zone's offset at the instant as +HH<colon>MM, or `zero` where it is zero."""
    if zone == tz.UTC:
        return exp.Literal.string(zero if zero is not None else f"+00{colon}00")
    text = template(
        "(CASE WHEN :s < 0 THEN '-' ELSE '+' END) || lpad(CAST(abs(:s) // 3600 AS VARCHAR), 2, '0') || :c || "
        "lpad(CAST(abs(:s) % 3600 // 60 AS VARCHAR), 2, '0')",
        s=offset_seconds(value, zone),
        c=exp.Literal.string(colon),
    )
    if zero is None:
        return text
    zero_text = exp.Literal.string(zero)
    return template("CASE WHEN :s = 0 THEN :z ELSE :t END", s=offset_seconds(value, zone), z=zero_text, t=text)


def _to_iso8601(value: exp.Expression) -> exp.Expression:
    zone = needs_zone(value)
    local_time = local(value, zone)
    day = call("strftime", local_time, exp.Literal.string("%Y-%m-%dT"))
    text = exp.DPipe(this=day, expression=_seconds_text(local_time.copy(), _precision(value)))
    return exp.DPipe(this=text, expression=_offset_text(value, zone, ":", "Z"))


def _joda_pieces(pattern: str) -> list[tuple[bool, str]]:
    """A Joda pattern cut around its (unquoted) zone letters: [(is_zone, text), ...]."""
    pieces, current, index, quoted = [], "", 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "zZ":
            run = len(pattern[index:]) - len(pattern[index:].lstrip(char))
            pieces += [(False, current)] if current else []
            pieces.append((True, pattern[index : index + run]))
            current, index = "", index + run
            continue
        current += char
        index += 1
    return pieces + ([(False, current)] if current else [])


def _format_datetime(node: exp.Anonymous) -> exp.Expression | None:
    """format_datetime of a zoned value whose pattern prints the zone: Joda's Z (+0709), ZZ (+07:09) and ZZZ (the
    zone id); the time zone names of z are refused (NOT_SUPPORTED)."""
    value, pattern = node.expressions
    if not (isinstance(pattern, exp.Literal) and pattern.is_string) or tz.zone_of(value) is None:
        return None
    pieces = _joda_pieces(pattern.this)
    if not any(is_zone for is_zone, _ in pieces):
        return None
    zone = needs_zone(value)
    parts = []
    for is_zone, text in pieces:
        if not is_zone:
            fmt = exp.Literal.string(joda_to_strftime(text))
            parts.append(call("strftime", to_millis(local(value.copy(), zone)), fmt))
        elif text.startswith("z"):
            raise not_supported("localaws does not format time zone names (Joda pattern letter 'z')")
        elif len(text) >= 3:
            parts.append(exp.Literal.string(zone))
        else:
            parts.append(_offset_text(value.copy(), zone, ":" if len(text) == 2 else "", None))
    result = parts[0]
    for part in parts[1:]:
        result = exp.DPipe(this=result, expression=part)
    return result


def _cast(node: exp.Cast) -> exp.Expression | None:
    value, to = node.this, node.to
    if to.this in tz.ZONED_TYPES:
        if isinstance(value, exp.Literal) and value.is_string:
            parts = tz.split_literal(value.this)
            if parts is not None:
                return instant(cast(exp.Literal.string(parts[0]), "TIMESTAMP"), parts[1] or tz.UTC)
        source = tt.type_of(value)
        if tz.zone_of(value) is None and (source is None or source.this in _TEXT):
            return _checked_text(value)
        return cast(value, "TIMESTAMPTZ") if tz.zone_of(value) is not None else None
    if isinstance(value, exp.Literal) and value.is_string and to.this == T.TIMESTAMP:
        parts = tz.split_literal(value.this)
        if parts is not None and parts[1] is not None:
            return type(node)(this=exp.Literal.string(parts[0]), to=to.copy())  # the zone is dropped, as Trino does
        return None
    zone = tz.zone_of(value)
    if zone is None:
        return None
    zone = needs_zone(value)
    if to.this in _TEXT:
        from localaws.athena.functions.casts import _length, _length_checked

        text, length = display(value, zone, _precision(value)), _length(to)
        return _length_checked(text, length, value) if length else text
    if to.this in (T.TIMESTAMP, T.DATE, T.TIME):
        return type(node)(this=local(value, zone), to=to.copy())
    raise not_supported(f"localaws does not cast a TIMESTAMP WITH TIME ZONE to {to.sql('trino')}")


def _checked_text(text: exp.Expression) -> exp.Expression:
    """CAST(varchar AS TIMESTAMP WITH TIME ZONE) of a column: UTC texts are read; another zone would be lost, so it
    fails at run time with NOT_SUPPORTED."""
    return template(
        r"CASE WHEN regexp_matches(trim(CAST(:s AS VARCHAR)), "
        r"':\d{2}(\.\d+)?\s*([+-]\d{1,2}(:?\d{2})?|[A-Za-z][A-Za-z_/+-]*)$') "
        r"AND NOT regexp_matches(trim(CAST(:s AS VARCHAR)), '(\s|\d)(UTC|Z|GMT|[+-]00(:?00)?)$') "
        "THEN error('NOT_SUPPORTED: localaws reads a zone other than UTC from a literal only, not from ' "
        "|| CAST(:s AS VARCHAR)) ELSE CAST(:s AS TIMESTAMPTZ) END",
        s=text,
    )


def _source(node: exp.Expression) -> exp.Expression | None:
    """The instant of the functions that set a zone; the zone itself is in node.meta (trino_zones)."""
    if isinstance(node, exp.UnixToTime):
        return template("to_timestamp(CAST(:s AS DOUBLE))", s=node.this)
    if isinstance(node, exp.AtTimeZone) or key_of(node) == "at_timezone":
        value = node.this if isinstance(node, exp.AtTimeZone) else node.expressions[0]
        return value if tz.zone_of(value) is not None else cast(value, "TIMESTAMPTZ")
    if key_of(node) == "with_timezone":
        if tz.zone_of(node.expressions[0]) is not None:
            raise _unexpected("with_timezone", node.expressions[0])
        return instant(node.expressions[0], needs_zone(node))
    if isinstance(node, exp.FromISO8601Timestamp) and (
        tz.zone_of(node) not in (tz.UNKNOWN, tz.UTC) or _instant_only(node)
    ):
        return cast(node.this, "TIMESTAMPTZ")
    return None


def _instant_only(node: exp.Expression) -> bool:
    """Whether only the instant of the node's value is used (compared, sorted, to_unixtime, date_diff of less than a
    day, or given a new zone by at_timezone / AT TIME ZONE), so that a text's own zone cannot change the answer."""
    child, parent = node, node.parent
    while isinstance(parent, exp.Paren):
        child, parent = parent, parent.parent
    if isinstance(parent, tz.INSTANT_USES):
        return True
    if isinstance(parent, exp.DateDiff):
        return _unit(parent) in _SUB_DAY
    if isinstance(parent, exp.AtTimeZone) or key_of(parent) == "at_timezone":
        return child is (parent.this if isinstance(parent, exp.AtTimeZone) else parent.expressions[0])
    return False


def _moved(node: exp.Expression, unit: str) -> exp.Expression | None:
    """date_trunc / date_add / interval arithmetic of a zoned value, read in its zone."""
    zone = tz.zone_of(node)
    if zone in (None, tz.UTC):
        return None
    zone = needs_zone(node)
    value = node.this if not isinstance(node, (exp.Add, exp.Sub)) else _zoned_arguments(node)[0]
    if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)) and unit in _SUB_DAY:
        kept = value.copy()
        local_time = local(value.copy(), zone)
        truncated = call("date_trunc", exp.Literal.string(unit.lower()), local_time)
        return template("(:v - (:l - :t))", v=kept, l=local_time.copy(), t=truncated)
    if unit in _SUB_DAY or (isinstance(node, (exp.Add, exp.Sub)) and unit not in ("MONTH", "YEAR")):
        return None  # elapsed time: the instant moves (day-to-second intervals too, as Trino adds them)
    _localize(node, zone)
    moved = _translated(node)
    return instant(moved.copy() if moved is node else moved, zone)


def rewrite(node: exp.Expression) -> exp.Expression | None:
    """The translation of a node that makes or reads a zoned value (run before functions' own translators);
    None where the node is translated as usual."""
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return _cast(node)
    if tz.zone_of(node) is not None:
        source = _source(node)
        if source is not None:
            return source
        if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc, exp.DateAdd)):
            return _moved(node, _unit(node))
        if isinstance(node, (exp.Add, exp.Sub)):
            interval = next((c for c in (node.this, node.expression) if isinstance(c, exp.Interval)), None)
            if interval is None and tz.zone_of(node) != tz.UTC:
                # a month interval from a column would move the local date, a day-to-second one the instant
                raise not_supported("localaws adds only INTERVAL literals to a TIMESTAMP WITH TIME ZONE outside UTC")
            return _moved(node, _unit(interval)) if interval is not None else None
        return None
    name = node.name.lower() if isinstance(node, exp.Anonymous) else ""
    if isinstance(node, exp.Extract) and node.this.name.upper() in ("TIMEZONE_HOUR", "TIMEZONE_MINUTE"):
        return _timezone_field(node.expression, node.this.name.upper())
    if name in ("timezone_hour", "timezone_minute") and node.expressions:
        return _timezone_field(node.expressions[0], name.upper())
    if name == "parse_datetime" and len(node.expressions) == 2:
        pattern = node.expressions[1]
        if isinstance(pattern, exp.Literal) and any(is_zone for is_zone, _ in _joda_pieces(pattern.this)):
            # Trino keeps the zone each text names; DuckDB's strptime keeps the instant only.
            raise not_supported("localaws does not parse time zones (Joda pattern letters 'Z' and 'z')")
    if name == "format_datetime" and len(node.expressions) == 2:
        formatted = _format_datetime(node)
        if formatted is not None:
            return formatted
    if not _zoned_arguments(node):
        return None
    if name == "to_iso8601":
        return _to_iso8601(node.expressions[0])
    if isinstance(node, exp.DateDiff):
        if _unit(node) in _SUB_DAY:
            return None
        _localize(node, needs_zone(node.expression) if tz.zone_of(node.expression) else tz.UTC)
        return None
    if isinstance(node, tz.FIELD_CLASSES) or name in tz.FIELD_NAMES:
        _localize(node)
    return None


REWRITERS.append(rewrite)
