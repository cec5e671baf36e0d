"""The typing policy: every column gets one concrete type, named by its Hive/Athena type string.

Types used: string, bigint, double, boolean, decimal(38,0), array<string|bigint|double|boolean>.
- ints only -> bigint; an int beyond int64 -> decimal(38,0) (or string past 38 digits), so its value is kept;
- ints mixed with floats -> double (a column that also holds an int beyond int64 -> string, to keep it exactly);
- any other mix (string vs number, object vs scalar, array vs scalar) -> string holding each value's JSON text;
- an all-null column -> string (never Arrow's null type); ISO-8601 strings stay strings (lossless; Athena's
  from_iso8601_timestamp() types them at query time);
- arrays of scalars -> array<element type> by the same rules; nested or mixed arrays -> array<string> of JSON texts.
`NULL` ("null") is only a block-level placeholder for "no value seen yet".
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from decimal import Decimal
from itertools import chain
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

NULL = "null"
STRING, BIGINT, DOUBLE, BOOLEAN, DECIMAL = "string", "bigint", "double", "boolean", "decimal(38,0)"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
DOUBLE_EXACT_INT = 2**53  # ints up to this magnitude survive a cast to double
_DECIMAL_MAX = 10**38 - 1

_ARROW = {
    STRING: pa.string(),
    BIGINT: pa.int64(),
    DOUBLE: pa.float64(),
    BOOLEAN: pa.bool_(),
    DECIMAL: pa.decimal128(38, 0),
    NULL: pa.null(),
}


def array_of(element: str) -> str:
    return f"array<{element}>"


def element_of(hive_type: str) -> str | None:
    return hive_type[6:-1] if hive_type.startswith("array<") else None


def arrow_type(hive_type: str) -> pa.DataType:
    element = element_of(hive_type)
    return pa.list_(_ARROW[element]) if element else _ARROW[hive_type]


def hive_type_of_arrow(arrow: pa.DataType) -> str | None:
    """The policy type of an Arrow type the fast path produced, or None if it needs the JSON-text fallback."""
    if pa.types.is_null(arrow):
        return NULL
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        return STRING
    if pa.types.is_int64(arrow):
        return BIGINT
    if pa.types.is_float64(arrow):
        return DOUBLE
    if pa.types.is_boolean(arrow):
        return BOOLEAN
    if pa.types.is_decimal(arrow) and arrow.precision == 38 and arrow.scale == 0:
        return DECIMAL
    if pa.types.is_list(arrow):
        element = hive_type_of_arrow(arrow.value_type)
        if element == NULL:
            return array_of(STRING)
        if element is not None and element_of(element) is None:
            return array_of(element)
    return None


def json_text(value: Any) -> str:
    """A value as it reads in JSON (strings unquoted): the lossless fallback representation."""
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float and math.isfinite(value):
        return repr(value)  # what json.dumps writes, without its overhead
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _texts(values: Sequence[Any]) -> Sequence[Any]:
    """JSON texts of the values, None kept; a no-op when they already are strings (the common case)."""
    if set(map(type, values)) <= {str, type(None)}:
        return values
    return [value if value is None or type(value) is str else json_text(value) for value in values]


def _scalar_kind(kinds: set[type], values: Sequence[Any]) -> str:
    kinds.discard(type(None))
    if not kinds:
        return NULL
    if kinds == {str}:
        return STRING
    if kinds == {bool}:
        return BOOLEAN
    if kinds == {float}:
        return DOUBLE
    if kinds <= {int, float}:
        ints = [v for v in values if type(v) is int]
        low, high = min(ints), max(ints)
        if float in kinds:
            return DOUBLE if low >= INT64_MIN and high <= INT64_MAX else STRING
        if low >= INT64_MIN and high <= INT64_MAX:
            return BIGINT
        return DECIMAL if low >= -_DECIMAL_MAX and high <= _DECIMAL_MAX else STRING
    return STRING


def infer_type(values: Sequence[Any]) -> str:
    """The policy type of a column's Python values (one block)."""
    kinds = set(map(type, values))
    if kinds <= {list, type(None)} and list in kinds:
        elements = [item for value in values if value is not None for item in value]
        element_kinds = set(map(type, elements))
        if element_kinds & {list, dict}:
            return array_of(STRING)
        element = _scalar_kind(element_kinds, elements)
        return array_of(STRING if element in (NULL, DECIMAL) else element)
    return _scalar_kind(kinds, values)


def is_mixed(values: Sequence[Any], hive_type: str) -> bool:
    """Did a string or array<string> column get its type from mixing kinds (rather than from holding strings)?"""
    if hive_type == STRING:
        return not set(map(type, values)) <= {str, type(None)}
    if hive_type == array_of(STRING):
        elements = chain.from_iterable(value for value in values if type(value) is list)
        return not set(map(type, elements)) <= {str, type(None)}
    return False


def to_arrow(values: Sequence[Any], hive_type: str) -> pa.Array:
    """Python values -> an Arrow array of the given policy type (JSON text where the type is string)."""
    element = element_of(hive_type)
    if hive_type == STRING:
        values = _texts(values)
    elif hive_type == DECIMAL:
        values = [None if value is None else Decimal(value) for value in values]
    elif hive_type == DOUBLE:
        values = [None if value is None else float(value) for value in values]
    elif element == STRING:
        elements = chain.from_iterable(value for value in values if value is not None)
        if not set(map(type, elements)) <= {str, type(None)}:
            values = [None if value is None else _texts(value) for value in values]
    elif element == DOUBLE:
        values = [None if value is None else [None if v is None else float(v) for v in value] for value in values]
    return pa.array(values, type=arrow_type(hive_type))


def unify(left: str, right: str) -> str:
    """The type that holds both: the within-file rule for blocks that typed a column differently."""
    if left == right or right == NULL:
        return left
    if left == NULL:
        return right
    pair = {left, right}
    if pair == {BIGINT, DOUBLE}:
        return DOUBLE
    if pair == {BIGINT, DECIMAL}:
        return DECIMAL
    left_element, right_element = element_of(left), element_of(right)
    if left_element and right_element:
        element = unify(left_element, right_element)
        return array_of(STRING if element == DECIMAL else element)
    return STRING


def cast_array(array: pa.Array | pa.ChunkedArray, target: str) -> pa.Array | pa.ChunkedArray:
    """Casts a column to a type that holds it losslessly (the caller checked with schema.castable)."""
    source = hive_type_of_arrow(array.type)
    if source == target:
        return array
    if source == NULL:
        return pa.nulls(len(array), arrow_type(target))
    element = element_of(target)
    if target == STRING and (source is None or element_of(source) is not None):
        return pa.array([None if v is None else json_text(v) for v in array.to_pylist()], pa.string())
    if element == STRING and source is not None and element_of(source) in (BIGINT, DOUBLE):
        values = array.to_pylist()  # Arrow prints doubles differently from JSON; keep the JSON text
        return pa.array([None if v is None else [None if x is None else json_text(x) for x in v] for v in values])
    if target == STRING and source == DOUBLE:
        return pa.array([None if v is None else json_text(v) for v in array.to_pylist()], pa.string())
    return pc.cast(array, arrow_type(target))
