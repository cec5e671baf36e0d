"""Decimal operators with Trino's result types and rounding (https://trino.io/docs/current/functions/decimal.html).

DuckDB divides decimals into a DOUBLE and rounds its own way; Trino keeps DECIMAL(p, max(s1, s2)) and rounds half up.
Division and modulus run in Python's decimal module at 80 digits, then cast to the Trino result type.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation

from sqlglot import exp

from localaws.athena import trino_types as tt
from localaws.athena.functions import call, cast, translator, udf

_CONTEXT = Context(prec=80, rounding=ROUND_HALF_UP, traps=[DivisionByZero, InvalidOperation])


class DivisionByZeroError(ArithmeticError):
    """Trino's DIVISION_BY_ZERO."""


@udf("trino_decimal_divide", ["VARCHAR", "VARCHAR", "INTEGER"], "VARCHAR")
def _divide(dividend: str, divisor: str, scale: int) -> str:
    a, b = Decimal(dividend), Decimal(divisor)
    if b == 0:
        raise DivisionByZeroError("Division by zero")
    quotient = _CONTEXT.divide(a, b)
    return str(quotient.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP, context=_CONTEXT))


@udf("trino_decimal_modulus", ["VARCHAR", "VARCHAR"], "VARCHAR")
def _modulus(dividend: str, divisor: str) -> str:
    a, b = Decimal(dividend), Decimal(divisor)
    if b == 0:
        raise DivisionByZeroError("Division by zero")
    return str(_CONTEXT.remainder(a, b))


def _exact(node: exp.Expression) -> exp.Expression:
    return cast(node, "VARCHAR")


@translator(exp.Mod)
def divide(node: exp.Binary) -> exp.Expression | None:
    result = node.type
    if not tt.is_decimal(result):
        return None
    _, scale = tt.decimal_params(result)
    if isinstance(node, exp.Div):
        value = call("trino_decimal_divide", _exact(node.this), _exact(node.expression), exp.Literal.number(scale))
    else:
        value = call("trino_decimal_modulus", _exact(node.this), _exact(node.expression))
    return cast(value, result)


def _exact_sum(augend: Decimal, addend: Decimal, scale: int) -> str:
    """Trino rescales both operands to the result scale as 128-bit integers (each must stay below 2^127), adds,
    and checks the sum against 38 digits."""
    for operand in (augend, addend):
        if abs(int(operand.scaleb(scale, context=_CONTEXT))) >= 2**127:
            raise ValueError("NUMERIC_VALUE_OUT_OF_RANGE: Decimal overflow")
    total = _CONTEXT.add(augend, addend)
    if abs(int(total.scaleb(scale, context=_CONTEXT))) >= 10**tt.MAX_PRECISION:
        raise ValueError("NUMERIC_VALUE_OUT_OF_RANGE: Decimal overflow")
    return str(total)


@udf("trino_decimal_add", ["VARCHAR", "VARCHAR", "INTEGER"], "VARCHAR")
def _add(augend: str, addend: str, scale: int) -> str:
    return _exact_sum(Decimal(augend), Decimal(addend), scale)


@udf("trino_decimal_subtract", ["VARCHAR", "VARCHAR", "INTEGER"], "VARCHAR")
def _subtract(minuend: str, subtrahend: str, scale: int) -> str:
    return _exact_sum(Decimal(minuend), Decimal(subtrahend).copy_negate(), scale)


@translator(exp.Mul)  # + and - come through functions.datetime.date_interval
def arithmetic(node: exp.Binary) -> exp.Expression | None:
    """DuckDB's decimal +, -, * are exact; the cast gives Trino's result type (DuckDB widens differently).

    Where Trino's result precision is capped at 38 digits, DuckDB first casts both operands of + and - to the result
    scale at 38 digits, which overflows for a 38-digit integer part (Trino adds exactly, then checks the sum): those
    run in Python's decimal module. A product past 18 digits is computed at 38 digits (DuckDB otherwise multiplies
    in 64 bits and overflows)."""
    if not tt.is_decimal(node.type):
        return None
    left, right = tt.decimal_params(tt.type_of(node.this)), tt.decimal_params(tt.type_of(node.expression))
    if isinstance(node, (exp.Add, exp.Sub)) and left and right:
        (p1, s1), (p2, s2) = left, right
        if 1 + max(p1 - s1, p2 - s2) + max(s1, s2) > tt.MAX_PRECISION:
            name = "trino_decimal_add" if isinstance(node, exp.Add) else "trino_decimal_subtract"
            scale = exp.Literal.number(max(s1, s2))
            return cast(call(name, _exact(node.this), _exact(node.expression), scale), node.type)
    if isinstance(node, exp.Mul) and left and right and left[0] + right[0] > 18:
        wide = [
            cast(side, tt.decimal_type(tt.MAX_PRECISION, scale))
            for side, (_, scale) in ((node.this, left), (node.expression, right))
        ]
        return cast(exp.Mul(this=wide[0], expression=wide[1]), node.type)
    return cast(node.copy(), node.type)
