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


@translator(exp.Mul)  # + and - come through functions.datetime.date_interval
def arithmetic(node: exp.Binary) -> exp.Expression | None:
    """DuckDB's decimal +, -, * are exact; the cast gives Trino's result type (DuckDB widens differently)."""
    if not tt.is_decimal(node.type):
        return None
    return cast(node.copy(), node.type)
