"""CAST as Trino does it (https://trino.io/docs/current/functions/conversion.html,
https://trino.io/docs/current/language/types.html).

- A double or real prints in Java's scientific form: CAST(37.7E0 AS VARCHAR) = '3.77E1', NaN, Infinity.
- A decimal prints its leading zero (0.5); DuckDB prints DECIMAL(1,1) as '.5'.
- A double or real becomes a decimal through Java's Double.toString / Float.toString digits (Trino's
  BigDecimal.valueOf), not through its binary value: DOUBLE '1234567890.0' is exactly 1234567890, and REAL
  '1234567940' (the float 1234567936) is 1234567940 (see java_digits).
- varchar(n): a longer string is cut to n characters; a number or date whose text is longer fails.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import struct
from decimal import ROUND_HALF_UP, Decimal

from sqlglot import exp

from localaws.athena import trino_types as tt
from localaws.athena.functions import call, cast, not_supported, template, translator, udf

T = exp.DataType.Type
_TEXT = {T.VARCHAR, T.TEXT, T.CHAR, T.NVARCHAR, T.NCHAR}


def java_scientific(value: float, single: bool = False) -> str:
    """Trino's text for a double (shortest digits that read back) or a real (7 significant digits), as d.dddEn."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0E0" if math.copysign(1, value) < 0 else "0.0E0"
    sign, digits, exponent = Decimal(f"{value:.6e}" if single else repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{len(text) + exponent - 1}"


# Java's FloatingDecimal (Double.toString, Float.toString up to Java 18) prints an integer-valued double or float
# below 2^63 from its exact value, dropping only as many low digits as this table allows for 2^(exponent - bits - 1);
# that is more digits than the shortest text that reads back (Float.toString(1.23456790519087104E17f) = 1.23456791E17).
_INSIGNIFICANT_DIGITS = (
    *(0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9),
    *(9, 9, 10, 10, 10, 11, 11, 11, 12, 12, 12, 12, 13, 13, 13, 14, 14, 14, 15, 15, 15, 15, 16, 16, 16),
    *(17, 17, 17, 18, 18, 18, 19),
)


def _float32(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]


def java_digits(value: float, single: bool = False) -> Decimal:
    """The decimal Java's Double.toString (or Float.toString, `single`) denotes for a finite value.

    Integer values below 2^63 take FloatingDecimal's fast path (exact digits, rounded half up at the insignificant
    ones); others print the shortest digits that read back as the same double (float)."""
    if value != 0 and value == int(value):
        exponent = math.frexp(abs(value))[1] - 1
        if exponent <= 62:
            bits = 24 if single else 53
            power = exponent - bits - 1
            dropped = _INSIGNIFICANT_DIGITS[power] if exponent > bits and 1 < power < len(_INSIGNIFICANT_DIGITS) else 0
            digits = int(abs(value))
            if dropped:
                digits, residue = divmod(digits, 10**dropped)
                digits += residue >= 10**dropped // 2
            return Decimal(digits).scaleb(dropped).copy_sign(Decimal(value))
    if not single:
        return Decimal(repr(value))
    for count in range(1, 10):
        text = f"{value:.{count - 1}e}"
        if _float32(float(text)) == value:
            return Decimal(text)
    return Decimal(repr(value))


def java_to_string(value: float, single: bool = False) -> str:
    """Java's Double.toString (Float.toString, `single`): plain digits from 10^-3 to 10^7 (3.14, 100.0), else
    computerized scientific notation (1.0E10); Trino writes map keys of these types so in JSON."""
    if math.isnan(value) or math.isinf(value) or value == 0:
        return java_scientific(value).replace("0.0E0", "0.0")
    digits = java_digits(value, single)
    if 1e-3 <= abs(value) < 1e7:
        text = format(digits, "f")
        return text if "." in text else text + ".0"
    sign, numerals, exponent = digits.normalize().as_tuple()
    text = "".join(map(str, numerals))
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{len(text) + exponent - 1}"


@udf("trino_double_to_java_text", ["DOUBLE"], "VARCHAR")
def _double_to_java_text(value: float) -> str:
    return java_to_string(value)


@udf("trino_real_to_java_text", ["FLOAT"], "VARCHAR")
def _real_to_java_text(value: float) -> str:
    return java_to_string(value, single=True)


@udf("trino_double_to_decimal_text", ["DOUBLE"], "VARCHAR")
def _double_to_decimal_text(value: float) -> str:
    return format(java_digits(value), "f") if math.isfinite(value) else str(value)


@udf("trino_real_to_decimal_text", ["FLOAT"], "VARCHAR")
def _real_to_decimal_text(value: float) -> str:
    return format(java_digits(value, single=True), "f") if math.isfinite(value) else str(value)


@udf("trino_double_to_varchar", ["DOUBLE"], "VARCHAR")
def _double_to_varchar(value: float) -> str:
    return java_scientific(value)


@udf("trino_real_to_varchar", ["FLOAT"], "VARCHAR")
def _real_to_varchar(value: float) -> str:
    return java_scientific(value, single=True)


def _length_checked(text: exp.Expression, length: int, source: exp.Expression) -> exp.Expression:
    message = exp.Literal.string(f"INVALID_CAST_ARGUMENT: Value cannot be cast to varchar({length})")
    too_long = exp.GT(this=call("length", text.copy()), expression=exp.Literal.number(length))
    return exp.Case(ifs=[exp.If(this=too_long, true=call("error", message))], default=text)


@translator(exp.Cast, exp.TryCast)
def cast_(node: exp.Cast) -> exp.Expression | None:
    to, value = node.to, node.this
    if (
        isinstance(value, exp.Null)
        and to.this != T.UNKNOWN
        and any(t.this == T.UNKNOWN for t in to.find_all(exp.DataType))
    ):
        # Trino's UNKNOWN is the type of NULL alone (CAST(NULL AS ARRAY(UNKNOWN))); DuckDB has no such name
        known = to.copy().transform(
            lambda t: exp.DataType.build("BOOLEAN") if isinstance(t, exp.DataType) and t.this == T.UNKNOWN else t
        )
        return type(node)(this=value.copy(), to=known)
    if to.this == T.TIMESTAMP and isinstance(value, exp.Literal) and value.is_string:
        rounded = _rounded_timestamp_text(value.this, _length(to))
        if rounded is not None:
            return type(node)(this=exp.Literal.string(rounded), to=to.copy())
    source = tt.type_of(value)
    if source is None:
        return None
    if to.this == T.TIMESTAMP and source.this in _TEXT and not isinstance(value, exp.Literal):
        precision = exp.Literal.number(_length(to) if _length(to) is not None else 3)
        return type(node)(this=call("trino_timestamp_text", value.copy(), precision), to=to.copy())
    from localaws.athena.functions.json import cast_json

    rewritten = cast_json(node)
    if rewritten is not None:
        return rewritten
    if to.this == T.STRUCT and to.expressions and source.this in (T.STRUCT, T.JSON):
        return _row_cast(node, source)
    if source.this in tt.FLOATING and to.this in tt.INTEGERS:
        return type(node)(this=call("round", value.copy()), to=to.copy())  # half away from zero, as Trino
    if to.this in _TEXT:
        if source.this in _TEXT:
            length = _length(to)
            return call("substr", value.copy(), exp.Literal.number(1), exp.Literal.number(length)) if length else None
        text = to_text(value, source)
        if text is None:
            return None
        length = _length(to)
        return _length_checked(text, length, value) if length else text
    if to.this == T.DECIMAL and tt.is_floating(source):
        name = "trino_real_to_decimal_text" if source.this == T.FLOAT else "trino_double_to_decimal_text"
        return type(node)(this=call(name, value.copy()), to=to.copy())
    return None


def _row_cast(node: exp.Cast, source: exp.DataType) -> exp.Expression:
    """A ROW casts to a ROW field by field in order, whatever the names (DuckDB matches names); so does a JSON
    array (a JSON object matches the field names). DuckDB's unnamed TUPLE type casts by position."""
    if source.this == T.JSON:  # a JSON value may be text here (CAST(x AS JSON) is kept as text)
        node = type(node)(this=cast(cast(node.this, "VARCHAR"), "JSON"), to=node.to.copy())
    kinds = [field.args.get("kind") if isinstance(field, exp.ColumnDef) else field for field in node.to.expressions]
    tuple_type = exp.DataType.build(f"TUPLE({', '.join(kind.sql('duckdb') for kind in kinds)})", udt=True)
    by_position = type(node)(this=type(node)(this=node.this.copy(), to=tuple_type), to=node.to.copy())
    if source.this == T.STRUCT:
        return by_position
    return template(
        "CASE WHEN json_type(CAST(:v AS JSON)) = 'ARRAY' THEN :p ELSE :n END", v=node.this, p=by_position, n=node.copy()
    )


_TIMESTAMP_TEXT = re.compile(r"^\s*(\d{4,}-\d{1,2}-\d{1,2} \d{1,2}:\d{1,2}:\d{1,2})\.(\d+)\s*$")


def _rounded_timestamp_text(text: str, precision: int | None) -> str | None:
    """A timestamp text with more fraction digits than TIMESTAMP(p) holds (p = 3 when not given), rounded half up
    as Trino's cast does (DuckDB cuts at microseconds): '... 12:34:56.5555555' AS TIMESTAMP(6) is '....555556'."""
    match = _TIMESTAMP_TEXT.match(text)
    digits = 3 if precision is None else precision
    if match is None or len(match[2]) <= digits or digits > 6:
        return None
    try:
        whole = dt.datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    fraction = Decimal("0." + match[2]).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    moved = whole + dt.timedelta(seconds=int(fraction))
    kept = f"{fraction % 1:f}"[2:].ljust(digits, "0")[:digits]
    return f"{moved.year:04d}" + moved.strftime("-%m-%d %H:%M:%S") + (f".{kept}" if digits else "")


@udf("trino_timestamp_text", ["VARCHAR", "INTEGER"], "VARCHAR")
def _timestamp_text(text: str, precision: int) -> str:
    """A varchar read from a table, rounded to TIMESTAMP(precision) as a literal is (_rounded_timestamp_text)."""
    return _rounded_timestamp_text(text, precision) or text


def _length(to: exp.DataType) -> int | None:
    if to.expressions and isinstance(to.expressions[0].this, exp.Literal):
        return int(to.expressions[0].this.this)
    return None


def to_text(value: exp.Expression, source: exp.DataType) -> exp.Expression | None:
    if source.this == T.DOUBLE:
        return call("trino_double_to_varchar", value.copy())
    if source.this == T.FLOAT:
        return call("trino_real_to_varchar", value.copy())
    if source.this == T.DECIMAL:
        return call(
            "regexp_replace",
            cast(value.copy(), "VARCHAR"),
            exp.Literal.string(r"^(-?)\."),
            exp.Literal.string(r"\10."),
        )
    if source.this in tt.INTEGERS or source.this in (T.DATE, T.BOOLEAN):
        return cast(value.copy(), "VARCHAR")
    if source.this == T.JSON:
        return call("trino_json_to_varchar", cast(value.copy(), "VARCHAR"))
    return None


# typeof() answers the Trino type the translation inferred, where it is sure of it.
_TYPEOF = {
    T.BOOLEAN: "boolean",
    T.TINYINT: "tinyint",
    T.SMALLINT: "smallint",
    T.INT: "integer",
    T.BIGINT: "bigint",
    T.DOUBLE: "double",
    T.FLOAT: "real",
    T.DATE: "date",
    T.JSON: "json",
}


@translator(exp.Typeof)
def typeof(node: exp.Typeof) -> exp.Expression:
    dtype = tt.type_of(node.this)
    if dtype is not None and dtype.this in _TYPEOF:
        return exp.Literal.string(_TYPEOF[dtype.this])
    if tt.is_decimal(dtype):
        return exp.Literal.string("decimal({}, {})".format(*tt.decimal_params(dtype)).replace(" ", ""))
    raise not_supported("localaws answers typeof() only for boolean, numeric, date and json values")
