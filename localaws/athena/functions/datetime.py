"""Date and time functions (https://trino.io/docs/current/functions/datetime.html).

- Functions of a DATE stay DATE (date_add, date_trunc, DATE + INTERVAL '1' MONTH); DuckDB widens to TIMESTAMP.
- date_format / date_parse take MySQL specifiers and format_datetime / parse_datetime Joda patterns, converted here
  from the original text (sqlglot's own conversion drops Trino's meaning of %f, %v, %x and literal letters).
- Fractions: %f and SSS print milliseconds, rounded half up as Trino does for these millisecond functions.
- TIMESTAMP WITH TIME ZONE in zones other than UTC: timezones.py (the zone is carried by the translation).
"""

from __future__ import annotations

import re

from sqlglot import exp

from localaws.athena import trino_types as tt
from localaws.athena.errors import QueryFailed
from localaws.athena.functions import call, cast, not_supported, template, translator

T = exp.DataType.Type
_DATE_UNITS = {"DAY", "WEEK", "MONTH", "QUARTER", "YEAR"}

# MySQL specifiers of date_format/date_parse -> strftime. https://trino.io/docs/current/functions/datetime.html#mysql-date-functions
_MYSQL = {
    "a": "%a",
    "b": "%b",
    "c": "%-m",
    "d": "%d",
    "e": "%-d",
    "f": "%g000",
    "H": "%H",
    "h": "%I",
    "I": "%I",
    "i": "%M",
    "j": "%j",
    "k": "%-H",
    "l": "%-I",
    "M": "%B",
    "m": "%m",
    "p": "%p",
    "r": "%I:%M:%S %p",
    "S": "%S",
    "s": "%S",
    "T": "%H:%M:%S",
    "v": "%V",
    "W": "%A",
    "x": "%G",
    "Y": "%Y",
    "y": "%y",
    "%": "%%",
}
_MYSQL_UNSUPPORTED = set("DUuVwX")
_PARSE_FRACTION = {"%g000": "%g"}

# Joda-Time pattern letters of format_datetime/parse_datetime -> strftime (by run length).
_JODA = {
    "yyyy": "%Y",
    "yy": "%y",
    "y": "%Y",
    "YYYY": "%Y",
    "xxxx": "%G",
    "MMMM": "%B",
    "MMM": "%b",
    "MM": "%m",
    "M": "%-m",
    "dd": "%d",
    "d": "%-d",
    "DDD": "%j",
    "HH": "%H",
    "H": "%-H",
    "hh": "%I",
    "h": "%-I",
    "mm": "%M",
    "m": "%-M",
    "ss": "%S",
    "s": "%-S",
    "SSS": "%g",
    "SSSSSS": "%f",
    "a": "%p",
    "EEEE": "%A",
    "EEE": "%a",
    "E": "%a",
    "ZZ": "%z",
    "Z": "%z",
    "z": "%Z",
    "ww": "%V",
    "w": "%V",
}


def mysql_to_strftime(pattern: str) -> str:
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "%" and index + 1 < len(pattern):
            spec = pattern[index + 1]
            if spec in _MYSQL_UNSUPPORTED:
                raise QueryFailed(f"INVALID_FUNCTION_ARGUMENT: %{spec} not supported in date format string")
            out.append(_MYSQL.get(spec, spec.replace("%", "%%")))
            index += 2
            continue
        out.append("%%" if char == "%" else char)
        index += 1
    return "".join(out)


def joda_to_strftime(pattern: str) -> str:
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "'":
            end = pattern.find("'", index + 1)
            end = len(pattern) if end < 0 else end
            out.append(pattern[index + 1 : end].replace("%", "%%") or "'")
            index = end + 1
            continue
        run = len(pattern[index:]) - len(pattern[index:].lstrip(char))
        if char.isalpha():
            token = pattern[index : index + run]
            if token not in _JODA:
                raise not_supported(f"localaws does not format the Joda pattern letters '{token}'")
            out.append(_JODA[token])
        else:
            out.append(pattern[index : index + run].replace("%", "%%"))
        index += run
    return "".join(out)


def _literal_pattern(node: exp.Expression, function: str) -> str:
    if not isinstance(node, exp.Literal) or not node.is_string:
        raise not_supported(f"localaws needs {function}'s pattern as a literal")
    return node.this


def to_millis(value: exp.Expression) -> exp.Expression:
    """The timestamp rounded half up to milliseconds (what Trino's millisecond-precision functions see)."""
    return template("date_trunc('millisecond', CAST(:t AS TIMESTAMP) + INTERVAL 500 MICROSECOND)", t=value)


@translator("date_format")
def date_format(node: exp.Anonymous) -> exp.Expression:
    value, pattern = node.expressions
    fmt = mysql_to_strftime(_literal_pattern(pattern, "date_format"))
    return call("strftime", to_millis(value), exp.Literal.string(fmt))


@translator("format_datetime")
def format_datetime(node: exp.Anonymous) -> exp.Expression:
    value, pattern = node.expressions
    fmt = joda_to_strftime(_literal_pattern(pattern, "format_datetime"))
    return call("strftime", to_millis(value), exp.Literal.string(fmt))


def _parse(text: exp.Expression, fmt: str) -> exp.Expression:
    parsed = call("strptime", text, exp.Literal.string(fmt))
    if not re.search(r"%[YyGC]", fmt):
        parsed = template("(:p + INTERVAL 70 YEAR)", p=parsed)  # Trino's default year is 1970, strptime's 1900
    return parsed


@translator("date_parse")
def date_parse(node: exp.Anonymous) -> exp.Expression:
    """Trino parses with Joda: %f reads up to 9 fraction digits (kept to milliseconds, cut), an hour of %h, %I or
    %l without %p is AM (12 is 0), and %y pivots at 2020 (69 is 2069, 70 is 1970; strptime: 1969)."""
    text, pattern = node.expressions
    fmt = mysql_to_strftime(_literal_pattern(pattern, "date_parse")).replace("%g000", "%n")
    parsed = call("strptime", text, exp.Literal.string(fmt))
    if "%n" in fmt:
        parsed = template("CAST(date_trunc('millisecond', :p) AS TIMESTAMP)", p=parsed)
    if re.search(r"%-?I", fmt) and "%p" not in fmt:
        parsed = template("CASE WHEN hour(:p) = 12 THEN :p - INTERVAL 12 HOUR ELSE :p END", p=parsed)
    if "%y" in fmt:
        parsed = template("CASE WHEN year(:p) = 1969 THEN :p + INTERVAL 100 YEAR ELSE :p END", p=parsed)
    if not re.search(r"%[YyGC]", fmt):
        parsed = template("(:p + INTERVAL 70 YEAR)", p=parsed)  # Trino's default year is 1970, strptime's 1900
    return parsed


@translator("parse_datetime")
def parse_datetime(node: exp.Anonymous) -> exp.Expression:
    text, pattern = node.expressions
    fmt = joda_to_strftime(_literal_pattern(pattern, "parse_datetime"))
    return cast(_parse(text, fmt), "TIMESTAMPTZ")


def _is_date(node: exp.Expression) -> bool:
    dtype = tt.type_of(node)
    return dtype is not None and dtype.this == T.DATE


def _timestamp_precision(dtype: exp.DataType | None) -> int | None:
    """p of a TIMESTAMP(p) type; None when the type or its precision is not known."""
    if dtype is None or dtype.this != T.TIMESTAMP or not dtype.expressions:
        return None
    value = dtype.expressions[0].this
    return int(value.this) if isinstance(value, exp.Literal) else None


@translator(exp.DateAdd)
def date_add(node: exp.DateAdd) -> exp.Expression | None:
    unit = node.args.get("unit")
    name = unit.name.upper() if unit is not None else "DAY"
    amount = template("INTERVAL (:n) " + ("DAY" if name == "WEEK" else name), n=node.expression)
    if name == "WEEK":
        amount = template("INTERVAL (:n * 7) DAY", n=node.expression)
    if name == "QUARTER":
        amount = template("INTERVAL (:n * 3) MONTH", n=node.expression)
    if name == "MILLISECOND":
        amount = template("INTERVAL (:n * 1000) MICROSECOND", n=node.expression)
    moved = template("(:t + :i)", t=node.this, i=amount)
    precision = _timestamp_precision(tt.type_of(node.this))
    if name == "MILLISECOND" and precision is not None and precision < 3:
        # The result keeps the timestamp's precision, rounded half up: TIMESTAMP(0) + 1 ms is the same second.
        factor = 10 ** (6 - precision)
        moved = template(
            f"make_timestamp(CAST(floor((epoch_us(:m) + {factor // 2}) / CAST({factor} AS DOUBLE)) AS BIGINT) "
            f"* {factor})",
            m=moved,
        )
    if _is_date(node.this):
        if name not in _DATE_UNITS:
            raise QueryFailed(f"INVALID_FUNCTION_ARGUMENT: '{name.lower()}' is not a valid DATE field")
        return cast(moved, "DATE")
    return moved


@translator(exp.TimestampTrunc, exp.DateTrunc)
def date_trunc(node: exp.Expression) -> exp.Expression | None:
    unit = node.args.get("unit")
    if unit is not None and unit.find(exp.Column) is not None:
        return _date_trunc_by(unit, node.this)
    name = unit.name.lower() if unit is not None else "day"
    truncated = call("date_trunc", exp.Literal.string(name), node.this)
    if _is_date(node.this):
        return cast(truncated, "DATE")
    return truncated


def _date_trunc_by(unit: exp.Expression, value: exp.Expression) -> exp.Expression:
    """date_trunc(unit, x) with the unit read from a column: checked row by row against the units Trino accepts for
    x's type (https://trino.io/docs/current/functions/datetime.html#date_trunc), as a literal unit is."""
    date = _is_date(value)
    units = _DATE_UNITS if date else {*_DATE_UNITS, "HOUR", "MINUTE", "SECOND", "MILLISECOND"}
    listed = ", ".join(f"'{u.lower()}'" for u in sorted(units))
    kind = "DATE" if date else "Timestamp"
    truncated = template("date_trunc(lower(:u), :x)", u=unit, x=value)
    return template(
        f"CASE WHEN :u IS NULL OR :x IS NULL THEN NULL WHEN lower(:u) IN ({listed}) THEN :t "
        f"ELSE error(concat('INVALID_FUNCTION_ARGUMENT: ''', :u, ''' is not a valid {kind} field')) END",
        u=unit,
        x=value,
        t=cast(truncated, "DATE") if date else truncated,
    )


@translator(exp.Add, exp.Sub)
def date_interval(node: exp.Binary) -> exp.Expression | None:
    """DATE +/- INTERVAL of days, months or years is a DATE in Trino."""
    from localaws.athena.functions.decimal import arithmetic

    interval = node.expression if isinstance(node.expression, exp.Interval) else None
    date = node.this
    if interval is None and isinstance(node, exp.Add) and isinstance(node.this, exp.Interval):
        interval, date = node.this, node.expression
    if interval is not None and _is_date(date):
        unit = interval.args.get("unit")
        if unit is not None and unit.name.upper() in _DATE_UNITS:
            return cast(node.copy(), "DATE")
    return arithmetic(node)


@translator("millisecond")
def millisecond(node: exp.Anonymous) -> exp.Expression:
    return template("CAST(millisecond(:t) % 1000 AS BIGINT)", t=node.expressions[0])


@translator("to_iso8601")
def to_iso8601(node: exp.Anonymous) -> exp.Expression:
    value = node.expressions[0]
    dtype = tt.type_of(value)
    if dtype is not None and dtype.this == T.DATE:
        return call("strftime", value, exp.Literal.string("%Y-%m-%d"))
    if dtype is not None and dtype.this in (T.TIMESTAMPTZ, T.TIMESTAMPLTZ):
        return call("strftime", to_millis(value), exp.Literal.string("%Y-%m-%dT%H:%M:%S.%gZ"))
    return call("strftime", to_millis(value), exp.Literal.string("%Y-%m-%dT%H:%M:%S.%g"))


# Trino's EXTRACT fields (https://trino.io/docs/current/functions/datetime.html#extraction-function) in DuckDB's
# names; DOW is ISO (Monday 1 .. Sunday 7), where DuckDB's dayofweek counts Sunday as 0.
_EXTRACT = {
    "DOW": "isodow",
    "DAY_OF_WEEK": "isodow",
    "DAYOFWEEK": "isodow",
    "DOY": "doy",
    "DAY_OF_YEAR": "doy",
    "DAYOFYEAR": "doy",
    "DAY_OF_MONTH": "day",
    "DAYOFMONTH": "day",
    "YOW": "isoyear",
    "YEAR_OF_WEEK": "isoyear",
    "WEEK": "week",
    "YEAR": "year",
    "QUARTER": "quarter",
    "MONTH": "month",
    "DAY": "day",
    "HOUR": "hour",
    "MINUTE": "minute",
    "SECOND": "second",
}
_INTERVAL_SECONDS = {"DAY": (86400, None), "HOUR": (3600, 24), "MINUTE": (60, 60), "SECOND": (1, 60)}


@translator(exp.Extract)
def extract(node: exp.Extract) -> exp.Expression:
    field = node.this.name.upper()
    value = node.expression
    dtype = tt.type_of(value)
    if dtype is not None and dtype.this == T.INTERVAL and field in _INTERVAL_SECONDS:
        # INTERVAL '27' HOUR is 1 day 3 hours in Trino; DuckDB keeps 27 hours.
        unit, modulus = _INTERVAL_SECONDS[field]
        whole = template(f"(CAST(floor(epoch(:i)) AS BIGINT) // {unit})", i=value)
        return template(f"(:w % {modulus})", w=whole) if modulus else whole
    if field not in _EXTRACT:
        raise not_supported(f"localaws does not extract {field}")
    return template(f"CAST(date_part('{_EXTRACT[field]}', :t) AS BIGINT)", t=value)


@translator("yow")
def year_of_week(node: exp.Anonymous) -> exp.Expression:
    return template("CAST(isoyear(:t) AS BIGINT)", t=node.expressions[0])


@translator(exp.DateDiff)
def date_diff(node: exp.DateDiff) -> exp.Expression | None:
    """Trino counts whole units elapsed (09:00:00.900 -> 09:00:01.100 is 0 seconds); DuckDB's date_diff counts
    boundaries crossed (1), its date_sub whole units."""
    unit = node.args.get("unit")
    if unit is None:
        return None
    return call("date_sub", exp.Literal.string(unit.name.lower()), node.expression, node.this)


@translator(exp.FromISO8601Timestamp)
def from_iso8601_timestamp(node: exp.FromISO8601Timestamp) -> exp.Expression:
    """A UTC (or zone-less) ISO 8601 text of a column is read as Trino reads it; an offset other than UTC fails at
    run time with NOT_SUPPORTED, since Trino would keep and show that zone (a literal's zone is kept: timezones.py)."""
    return template(
        r"CASE WHEN regexp_matches(:s, ':\d{2}(:\d{2}(\.\d+)?)?[+-]\d{2}(:?\d{2})?$') "
        r"AND NOT regexp_matches(:s, '[+-]00(:?00)?$') "
        "THEN error('NOT_SUPPORTED: localaws keeps TIMESTAMP WITH TIME ZONE in UTC; ' || :s || ' has another offset') "
        "ELSE CAST(:s AS TIMESTAMPTZ) END",
        s=node.this,
    )


@translator(exp.CurrentTimezone)
def current_timezone(node: exp.CurrentTimezone) -> exp.Expression:
    """Athena's sessions run in UTC (https://docs.aws.amazon.com/athena/latest/ug/data-types-timestamps.html)."""
    return exp.Literal.string("UTC")


@translator("to_milliseconds")
def to_milliseconds(node: exp.Anonymous) -> exp.Expression:
    """to_milliseconds(interval day to second) -> bigint (DuckDB's to_milliseconds makes an interval of a number)."""
    return template("CAST(round(epoch(:i) * 1000) AS BIGINT)", i=node.expressions[0])
