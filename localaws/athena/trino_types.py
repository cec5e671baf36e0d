"""Trino's types on the parsed tree: sqlglot's annotator, corrected where Trino's rules differ.

https://trino.io/docs/current/language/types.html#decimal and .../functions/decimal.html (result types):
- a decimal literal has exactly its digits: DECIMAL '1.50' and 1.50 are DECIMAL(3,2); DECIMAL alone is DECIMAL(38,0);
- an integer literal is INTEGER, or BIGINT past 2^31;
- + and -: DECIMAL(min(38, 1 + max(p1 - s1, p2 - s2) + max(s1, s2)), max(s1, s2));
- *: DECIMAL(min(38, p1 + p2), s1 + s2);
- /: DECIMAL(min(38, p1 + s2 + max(0, s2 - s1)), max(s1, s2)), rounded half up;
- %: DECIMAL(min(p2 - s2, p1 - s1) + max(s1, s2), max(s1, s2)).
Integer operands of decimal arithmetic count as DECIMAL(3,0) (tinyint) ... DECIMAL(19,0) (bigint).
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types

T = exp.DataType.Type
MAX_PRECISION = 38
_INTEGER_DIGITS = {T.TINYINT: 3, T.SMALLINT: 5, T.INT: 10, T.BIGINT: 19}
FLOATING = {T.DOUBLE, T.FLOAT}
INTEGERS = set(_INTEGER_DIGITS)
_DECIMAL_TEXT = re.compile(r"^\s*[+-]?(\d*)(?:\.(\d*))?\s*$")


def decimal_type(precision: int, scale: int) -> exp.DataType:
    return exp.DataType.build(f"DECIMAL({precision}, {scale})")


def literal_decimal(text: str) -> tuple[int, int] | None:
    """(precision, scale) of a decimal literal's digits: '0001.50' -> (3, 2), '.5' -> (1, 1); None if not a decimal."""
    match = _DECIMAL_TEXT.match(text)
    if not match or not (match[1] or match[2]):
        return None
    whole, fraction = match[1].lstrip("0"), match[2] or ""
    return max(1, len(whole) + len(fraction)), len(fraction)


def decimal_params(dtype: exp.DataType | None) -> tuple[int, int] | None:
    """(precision, scale) for a DECIMAL, or the decimal an integer type converts to; None otherwise."""
    if dtype is None:
        return None
    if dtype.this in _INTEGER_DIGITS:
        return _INTEGER_DIGITS[dtype.this], 0
    if dtype.this != T.DECIMAL:
        return None
    params = [int(p.this.this) if isinstance(p.this, exp.Literal) else None for p in dtype.expressions]
    if len(params) == 2 and None not in params:
        return params[0], params[1]
    if len(params) == 1 and params[0] is not None:
        return params[0], 0
    return MAX_PRECISION, 0


def is_decimal(dtype: exp.DataType | None) -> bool:
    return dtype is not None and dtype.this == T.DECIMAL


def is_floating(dtype: exp.DataType | None) -> bool:
    return dtype is not None and dtype.this in FLOATING


def type_of(node: exp.Expression | None) -> exp.DataType | None:
    if node is None:
        return None
    dtype = node.type
    return None if dtype is None or dtype.this == T.UNKNOWN else dtype


def _arithmetic(node: exp.Expression) -> exp.DataType | None:
    left, right = type_of(node.this), type_of(node.expression)
    if not (is_decimal(left) or is_decimal(right)):
        return None
    a, b = decimal_params(left), decimal_params(right)
    if a is None or b is None:
        return None
    (p1, s1), (p2, s2) = a, b
    scale = max(s1, s2)
    if isinstance(node, (exp.Add, exp.Sub)):
        precision = 1 + max(p1 - s1, p2 - s2) + scale
    elif isinstance(node, exp.Mul):
        precision, scale = p1 + p2, s1 + s2
    elif isinstance(node, exp.Div):
        precision = p1 + s2 + max(0, s2 - s1)
    else:
        precision = min(p2 - s2, p1 - s1) + scale
    return decimal_type(min(MAX_PRECISION, max(precision, 1)), min(scale, MAX_PRECISION))


_INTEGER_ORDER = [T.TINYINT, T.SMALLINT, T.INT, T.BIGINT]


def _integer_arithmetic(node: exp.Expression) -> exp.DataType | None:
    """Integer op integer is the wider integer type (7 / 2 is the integer 3)."""
    left, right = type_of(node.this), type_of(node.expression)
    if left is None or right is None or left.this not in INTEGERS or right.this not in INTEGERS:
        return None
    return exp.DataType(this=max(left.this, right.this, key=_INTEGER_ORDER.index))


def _corrected(node: exp.Expression) -> exp.DataType | None:
    if isinstance(node, exp.Literal) and not node.is_string:
        text = node.this
        if re.fullmatch(r"\d+", text):
            return exp.DataType.build("INT" if int(text) < 2**31 else "BIGINT")
        params = literal_decimal(text)
        return decimal_type(*params) if params else exp.DataType.build("DOUBLE")
    if isinstance(node, exp.Anonymous) and node.name.lower() in ("nan", "infinity"):
        return exp.DataType.build("DOUBLE")
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)):
        return _arithmetic(node) or _integer_arithmetic(node)
    if isinstance(node, (exp.Paren, exp.Neg)):
        return type_of(node.this)
    if isinstance(node, exp.Cast):
        return node.to
    if isinstance(node, exp.JSONExtract) or (isinstance(node, exp.Anonymous) and node.name.lower() == "json_array_get"):
        return exp.DataType.build("JSON")
    if isinstance(node, exp.DPipe):
        left, right = type_of(node.this), type_of(node.expression)
        for side in (left, right):
            if side is not None and side.this == T.ARRAY:
                return side
        return exp.DataType.build("VARCHAR") if left is not None and right is not None else None
    if isinstance(node, exp.FromBase):
        return exp.DataType.build("BIGINT")
    if isinstance(node, exp.Transform) and isinstance(node.expression, exp.Lambda):
        body = type_of(node.expression.this)
        return exp.DataType(this=T.ARRAY, expressions=[body], nested=True) if body is not None else None
    if isinstance(node, exp.Map):
        keys, values = type_of(node.args.get("keys")), type_of(node.args.get("values"))
        arrays = [t for t in (keys, values) if t is not None and t.this == T.ARRAY and t.expressions]
        if len(arrays) == 2:
            return exp.DataType(this=T.MAP, expressions=[keys.expressions[0], values.expressions[0]], nested=True)
    if isinstance(node, exp.Array) and node.expressions:
        element = common_type([type_of(e) for e in node.expressions if not isinstance(e, exp.Null)])
        return exp.DataType(this=T.ARRAY, expressions=[element], nested=True) if element is not None else None
    return None


def common_type(types: list[exp.DataType | None]) -> exp.DataType | None:
    """The type values of `types` coerce to: DOUBLE over DECIMAL over integers, element-wise for arrays, a type
    shared by all; None otherwise."""
    if not types or None in types:
        return None
    if all(t.this == T.ARRAY and t.expressions for t in types):  # ARRAY[ARRAY[1.0], ARRAY[2.25]]: the elements'
        inner = common_type([t.expressions[0] for t in types])
        return exp.DataType(this=T.ARRAY, expressions=[inner], nested=True) if inner is not None else None
    if all(t == types[0] for t in types) and types[0].this not in (T.NULL, T.UNKNOWN):
        return types[0]
    if any(is_floating(t) for t in types) and all(is_floating(t) or decimal_params(t) for t in types):
        return exp.DataType.build("REAL" if all(t.this == T.FLOAT for t in types) else "DOUBLE")
    if any(is_decimal(t) for t in types) and all(decimal_params(t) for t in types):
        params = [decimal_params(t) for t in types]
        scale = max(s for _, s in params)
        return decimal_type(min(MAX_PRECISION, max(p - s for p, s in params) + scale), scale)
    return None


# Functions whose lambda takes the elements of the array argument, or a map's (key, value).
_ELEMENT_LAMBDAS = (exp.Transform, exp.ArrayFilter, exp.ArrayAll, exp.ArrayAny)
_ELEMENT_LAMBDA_NAMES = {"any_match", "all_match", "none_match", "transform", "filter"}
_ENTRY_LAMBDA_NAMES = {"map_filter", "transform_keys", "transform_values"}


def _lambda_parameters(node: exp.Lambda) -> list[exp.DataType | None]:
    """The types of a lambda's parameters, from the array or map the enclosing function walks."""
    function = node.parent
    container = None
    if isinstance(function, exp.Anonymous) and function.expressions:
        container = type_of(function.expressions[0])
        name = function.name.lower()
        if name in _ENTRY_LAMBDA_NAMES and container is not None and container.this == T.MAP:
            return list(container.expressions[:2])
        if name not in _ELEMENT_LAMBDA_NAMES:
            return []
    elif isinstance(function, _ELEMENT_LAMBDAS):
        container = type_of(function.this)
    elif isinstance(function, exp.RegexpReplace):  # the lambda replacement takes the groups of each match
        return [exp.DataType.build("ARRAY(VARCHAR)")]
    elif isinstance(function, exp.ArraySort):  # a comparator (x, y): two elements
        element = type_of(function.this)
        return list(element.expressions[:1]) * 2 if element is not None and element.this == T.ARRAY else []
    if container is not None and container.this == T.ARRAY and container.expressions:
        return [container.expressions[0]]
    return []


def _type_lambda_parameters(tree: exp.Expression) -> bool:
    typed = False
    for node in tree.find_all(exp.Lambda):
        types = dict(zip((p.name for p in node.expressions), _lambda_parameters(node), strict=False))
        for identifier in node.this.find_all(exp.Identifier, exp.Column):
            dtype = types.get(identifier.name)
            if dtype is not None and not isinstance(identifier.parent, (exp.Column, exp.Dot)):
                identifier.type = dtype.copy()
                typed = True
    return typed


def _correct(tree: exp.Expression) -> None:
    for node in reversed(list(tree.walk())):
        corrected = _corrected(node)
        if corrected is not None:
            node.type = corrected


def annotate(tree: exp.Expression, schema: dict | None = None) -> exp.Expression:
    """Set `.type` on every node of `tree` (in place) to its Trino type where known, lambda parameters included."""
    annotate_types(tree, schema=schema, dialect="trino")
    _correct(tree)
    if _type_lambda_parameters(tree):
        _correct(tree)
    return tree
