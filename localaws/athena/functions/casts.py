"""CAST as Trino does it (https://trino.io/docs/current/functions/conversion.html,
https://trino.io/docs/current/language/types.html).

- A double or real prints in Java's scientific form: CAST(37.7E0 AS VARCHAR) = '3.77E1', NaN, Infinity.
- A decimal prints its leading zero (0.5); DuckDB prints DECIMAL(1,1) as '.5'.
- A double becomes a decimal through its shortest decimal text (DOUBLE '1234567890.0' is exactly 1234567890),
  not through its binary value.
- varchar(n): a longer string is cut to n characters; a number or date whose text is longer fails.
"""

from __future__ import annotations

import math
from decimal import Decimal

from sqlglot import exp

from localaws.athena import trino_types as tt
from localaws.athena.functions import call, cast, not_supported, translator, udf

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
    source = tt.type_of(value)
    if source is None:
        return None
    from localaws.athena.functions.json import cast_json

    rewritten = cast_json(node)
    if rewritten is not None:
        return rewritten
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
        return type(node)(this=to_text(value, exp.DataType.build("DOUBLE"), shortest=True), to=to.copy())
    return None


def _length(to: exp.DataType) -> int | None:
    if to.expressions and isinstance(to.expressions[0].this, exp.Literal):
        return int(to.expressions[0].this.this)
    return None


def to_text(value: exp.Expression, source: exp.DataType, shortest: bool = False) -> exp.Expression | None:
    if shortest:
        return cast(value.copy(), "VARCHAR")  # DuckDB prints a double's shortest round-trip digits
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
