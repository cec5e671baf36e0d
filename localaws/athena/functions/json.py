"""JSON functions and the JSON type as Trino has them (https://trino.io/docs/current/functions/json.html).

- CAST(JSON AS VARCHAR) gives a scalar's value ('"a"' -> a; numbers with a fraction print as doubles, 1.289E2);
  an object or an array fails.
- JSON equality compares values, not text: key order does not matter.
- CAST(map AS JSON) writes the keys sorted, as Trino does.
- json_array_get, json_array_contains, json_size and is_json_scalar run in Python; invalid JSON gives NULL.
"""

from __future__ import annotations

import json
import math
import re
import struct

from sqlglot import exp

from localaws.athena import trino_types as tt
from localaws.athena.functions import call, cast, not_supported, template, translator, udf
from localaws.athena.functions.casts import java_scientific

T = exp.DataType.Type


class InvalidArgument(ValueError):
    """Trino's INVALID_FUNCTION_ARGUMENT / INVALID_CAST_ARGUMENT."""


class Number(str):
    """A JSON number kept as its text (so 3.140 stays 3.140 and 1 never equals 1.0)."""

    @property
    def is_integer(self) -> bool:
        return re.fullmatch(r"-?\d+", self) is not None


def loads(text: str):
    return json.loads(text, parse_float=Number, parse_int=Number, parse_constant=Number)


def dumps(value) -> str:
    """Trino's canonical JSON text: compact, object keys sorted; a string marked RAW_NUMBER is a number's text."""
    if isinstance(value, Number):
        return str(value)
    if isinstance(value, str) and value.startswith(RAW_NUMBER):
        return value[1:]
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{dumps(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _parsed(text: str):
    try:
        return loads(text), True
    except ValueError:
        return None, False


@udf("trino_json_canonical", ["VARCHAR"], "VARCHAR")
def canonical(text: str) -> str:
    value, ok = _parsed(text)
    return dumps(value) if ok else text


@udf("trino_json_to_varchar", ["VARCHAR"], "VARCHAR")
def to_varchar(text: str) -> str | None:
    value, ok = _parsed(text)
    if not ok:
        raise InvalidArgument(f"INVALID_CAST_ARGUMENT: Cannot cast to varchar: {text}")
    if isinstance(value, (dict, list)):
        raise InvalidArgument(f"INVALID_CAST_ARGUMENT: Cannot cast '{dumps(value)}' to VARCHAR")
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Number):
        return str(value) if value.is_integer else java_scientific(float(value))
    return value


def _scalar_text(value):
    """A JSON scalar as CAST(json AS VARCHAR) prints it (12.3 -> '1.23E1'); containers and NULL unchanged."""
    if value is None or isinstance(value, (dict, list)):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if not isinstance(value, Number) or value.is_integer else java_scientific(float(value))


@udf("trino_json_members_as_text", ["VARCHAR"], "VARCHAR")
def members_as_text(text: str) -> str:
    """The JSON array or object with each scalar member turned into the JSON string of its VARCHAR text, for
    CAST(json AS ARRAY(VARCHAR)) and CAST(json AS MAP(K, VARCHAR)): Trino casts each member as a JSON scalar."""
    value, ok = _parsed(text)
    if not ok:
        return text
    if isinstance(value, list):
        value = [_scalar_text(v) for v in value]
    elif isinstance(value, dict):
        value = {k: _scalar_text(v) for k, v in value.items()}
    return json.dumps(value, ensure_ascii=False)


@udf("trino_double_to_real", ["DOUBLE"], "FLOAT")
def double_to_real(value: float) -> float:
    try:
        return struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


_TRUE_TEXT, _FALSE_TEXT = ("true", "t", "1"), ("false", "f", "0")


@udf("trino_json_to_boolean", ["VARCHAR"], "BOOLEAN")
def to_boolean(text: str) -> bool | None:
    """CAST(json AS BOOLEAN): a number is true unless 0 (an integer past BIGINT fails), a string reads as
    VARCHAR to BOOLEAN does ('true', 't', '1', 'false', 'f', '0', any case), an array or object fails."""
    value, ok = _parsed(text)
    if not ok or isinstance(value, (dict, list)):
        raise InvalidArgument(f"INVALID_CAST_ARGUMENT: Cannot cast '{text}' to BOOLEAN")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Number):
        if value.is_integer:
            if not -(2**63) <= int(value) < 2**63:
                raise InvalidArgument(f"INVALID_CAST_ARGUMENT: Cannot cast '{text}' to BOOLEAN")
            return int(value) != 0
        return float(value) != 0
    if value.lower() in _TRUE_TEXT + _FALSE_TEXT:
        return value.lower() in _TRUE_TEXT
    raise InvalidArgument(f"INVALID_CAST_ARGUMENT: Cannot cast '{text}' to BOOLEAN")


@udf("trino_json_array_get", ["VARCHAR", "BIGINT"], "VARCHAR")
def array_get(text: str, index: int) -> str | None:
    """The element at 0-based `index` (from the end when negative); a string element comes back unquoted, as
    Trino's documentation warns."""
    value, ok = _parsed(text)
    if not ok or not isinstance(value, list) or not -len(value) <= index < len(value):
        return None
    element = value[index]
    if element is None:
        return None
    return element if isinstance(element, str) and not isinstance(element, Number) else dumps(element)


def _contains(text: str, wanted, kind) -> bool | None:
    value, ok = _parsed(text)
    if not ok or not isinstance(value, list):
        return None
    for element in value:
        if kind == "boolean" and isinstance(element, bool) and element == wanted:
            return True
        if kind == "bigint" and isinstance(element, Number) and element.is_integer and int(element) == wanted:
            return True
        if kind == "double" and isinstance(element, Number) and not element.is_integer and float(element) == wanted:
            return True
        if kind == "varchar" and isinstance(element, str) and not isinstance(element, Number) and element == wanted:
            return True
    return False


@udf("trino_json_array_contains_boolean", ["VARCHAR", "BOOLEAN"], "BOOLEAN")
def contains_boolean(text: str, wanted: bool) -> bool | None:
    return _contains(text, wanted, "boolean")


@udf("trino_json_array_contains_bigint", ["VARCHAR", "BIGINT"], "BOOLEAN")
def contains_bigint(text: str, wanted: int) -> bool | None:
    return _contains(text, wanted, "bigint")


@udf("trino_json_array_contains_double", ["VARCHAR", "DOUBLE"], "BOOLEAN")
def contains_double(text: str, wanted: float) -> bool | None:
    return _contains(text, wanted, "double") if not math.isnan(wanted) else False


@udf("trino_json_array_contains_varchar", ["VARCHAR", "VARCHAR"], "BOOLEAN")
def contains_varchar(text: str, wanted: str) -> bool | None:
    return _contains(text, wanted, "varchar")


_PATH_STEP = re.compile(
    r"\.([A-Za-z_$][\w$]*)|\[\s*(\d+)\s*\]|\[\s*\"((?:[^\"\\]|\\.)*)\"\s*\]|\.\"((?:[^\"\\]|\\.)*)\""
)


def follow(value, path: str):
    """The value at a Trino JSON path ($, .key, ["key"], [n]); raises KeyError when the path does not lead anywhere."""
    text = path.strip()
    if not text.startswith("$"):
        raise InvalidArgument(f"Invalid JSON path: '{path}'")
    position = 1
    while position < len(text):
        match = _PATH_STEP.match(text, position)
        if not match:
            raise InvalidArgument(f"Invalid JSON path: '{path}'")
        key = match[1] or match[3] or match[4]
        if match[2] is not None:
            if not isinstance(value, list) or int(match[2]) >= len(value):
                raise KeyError(path)
            value = value[int(match[2])]
        else:
            if not isinstance(value, dict) or key not in value:
                raise KeyError(path)
            value = value[key]
        position = match.end()
    return value


@udf("trino_json_size", ["VARCHAR", "VARCHAR"], "BIGINT")
def size(text: str, path: str) -> int | None:
    value, ok = _parsed(text)
    if not ok:
        return None
    try:
        found = follow(value, path)
    except KeyError:
        return None
    return len(found) if isinstance(found, (dict, list)) else 0


@udf("trino_is_json_scalar", ["VARCHAR"], "BOOLEAN")
def is_scalar(text: str) -> bool:
    value, ok = _parsed(text)
    if not ok:
        raise InvalidArgument(f"Invalid JSON value: {text}")
    return not isinstance(value, (dict, list))


def is_json(dtype: exp.DataType | None) -> bool:
    return dtype is not None and dtype.this == T.JSON


def text(node: exp.Expression) -> exp.Expression:
    return cast(node, "VARCHAR")


@translator("json_array_get")
def json_array_get(node: exp.Anonymous) -> exp.Expression:
    return call("trino_json_array_get", text(node.expressions[0]), node.expressions[1])


@translator(exp.JSONArrayContains, "json_array_contains")
def json_array_contains(node: exp.Expression) -> exp.Expression:
    document, value = node.expressions if isinstance(node, exp.Anonymous) else (node.this, node.expression)
    dtype = tt.type_of(value)
    if dtype is None or dtype.this == T.NULL:
        return template("CAST(NULL AS BOOLEAN)")
    if dtype.this == T.BOOLEAN:
        kind = "boolean"
    elif dtype.this in tt.INTEGERS:
        kind = "bigint"
    elif tt.is_floating(dtype) or tt.is_decimal(dtype):
        kind = "double"
    else:
        kind = "varchar"
    return call(f"trino_json_array_contains_{kind}", text(document), value)


@translator("json_size")
def json_size(node: exp.Anonymous) -> exp.Expression:
    return call("trino_json_size", text(node.expressions[0]), node.expressions[1])


@translator("is_json_scalar")
def is_json_scalar(node: exp.Anonymous) -> exp.Expression:
    return call("trino_is_json_scalar", text(node.expressions[0]))


def equal(node: exp.Binary) -> exp.Expression | None:
    if not (is_json(tt.type_of(node.this)) and is_json(tt.type_of(node.expression))):
        return None
    left, right = (call("trino_json_canonical", text(side)) for side in (node.this, node.expression))
    return type(node)(this=left, expression=right)


def _has_anonymous_row(value: exp.Expression) -> bool:
    """Whether the value holds a ROW with anonymous fields (named field0... by dialect), looking through no CAST
    that fixes its type to one without them."""

    def fixed(node: exp.Expression) -> bool:
        return isinstance(node, exp.Cast) and not any(t.meta.get("anonymous_row") for t in node.to.walk())

    return any(inner.meta.get("anonymous_row") for inner in value.walk(prune=fixed))


# Marks a string that holds a number's JSON text, written raw by trino_json_canonical: DuckDB's JSON prints 1.50 as
# 1.5, a double 1E20 as 100000000000000000000.0 and a real 1.1 as 1.100000023841858; Trino (Jackson) prints 1.50,
# 1.0E20 and 1.1.
RAW_NUMBER = "\x01"


def _fully_typed(dtype: exp.DataType) -> bool:
    types = [t for t in dtype.walk() if isinstance(t, exp.DataType)]
    unknown = any(t.this in (T.NULL, T.UNKNOWN) for t in types)
    return not unknown and all(t.expressions for t in types if t.this in (T.ARRAY, T.MAP))


def _number_text(value: exp.Expression, dtype: exp.DataType) -> exp.Expression:
    from localaws.athena.functions.casts import to_text

    if tt.is_decimal(dtype):
        return to_text(cast(value, dtype), dtype)
    name = "trino_real_to_java_text" if dtype.this == T.FLOAT else "trino_double_to_java_text"
    return call(name, value)


def _json_ready(value: exp.Expression, dtype: exp.DataType | None, depth: int = 0) -> exp.Expression | None:
    """`value` with every DECIMAL, DOUBLE and REAL inside it (of arrays, maps and named rows) replaced by its JSON
    text marked RAW_NUMBER, and REAL/DOUBLE map keys by Java's text; None when nothing needs it."""
    if dtype is None:
        return None
    if tt.is_decimal(dtype) or tt.is_floating(dtype):
        return template(f"'{RAW_NUMBER}' || :t", t=_number_text(value, dtype))
    if dtype.this == T.ARRAY and dtype.expressions:
        item = exp.column(f"_ja{depth}")
        inner = _json_ready(item, dtype.expressions[0], depth + 1)
        return None if inner is None else template(f"list_transform(:a, _ja{depth} -> :i)", a=value, i=inner)
    if dtype.this == T.MAP and len(dtype.expressions) == 2:
        key_type, value_type = dtype.expressions
        entry = f"_jm{depth}"
        key = template(f"{entry}.key")
        keys = _number_text(key, key_type) if tt.is_floating(key_type) else None
        values = _json_ready(template(f"{entry}.value"), value_type, depth + 1)
        if keys is None and values is None:
            return None
        return template(
            f"map_from_entries(list_transform(map_entries(:m), {entry} -> struct_pack(key := :k, value := :v)))",
            m=value,
            k=keys or key,
            v=values or template(f"{entry}.value"),
        )
    if dtype.this == T.STRUCT and dtype.expressions and all(isinstance(f, exp.ColumnDef) for f in dtype.expressions):
        fields = [
            (
                f.name,
                _json_ready(
                    exp.Dot(this=value.copy(), expression=exp.to_identifier(f.name)), f.args.get("kind"), depth + 1
                ),
            )
            for f in dtype.expressions
        ]
        if all(ready is None for _, ready in fields):
            return None
        members = [
            exp.PropertyEQ(
                this=exp.to_identifier(name),
                expression=ready or exp.Dot(this=value.copy(), expression=exp.to_identifier(name)),
            )
            for name, ready in fields
        ]
        return template("CASE WHEN :s IS NULL THEN NULL ELSE :p END", s=value, p=exp.Struct(expressions=members))
    return None


def cast_json(node: exp.Cast) -> exp.Expression | None:
    """CAST(x AS JSON) with object keys sorted; CAST(json AS VARCHAR) as Trino prints a JSON scalar."""
    source = tt.type_of(node.this)
    if node.to.this == T.JSON and source is not None and source.this in (T.MAP, T.ARRAY, T.STRUCT):
        if _has_anonymous_row(node.this):
            # Trino writes an anonymous field's name as "" ({"":1,"":2}); localaws names them field0, field1, ...
            raise not_supported("localaws does not cast a ROW with anonymous fields to JSON; name them with CAST")
        value = node.this
        if _fully_typed(source) and not any(t.this == T.STRUCT for t in source.walk() if isinstance(t, exp.DataType)):
            value = cast(value, source)  # DuckDB may type ARRAY[12345.12345, 3.0]'s elements otherwise (3.0)
        value = _json_ready(value, source) or value
        node = type(node)(this=value, to=node.to.copy())
        # kept as text: DuckDB's JSON type re-prints numbers (1.50 -> 1.5)
        return call("trino_json_canonical", text(node.copy()))
    if node.to.this == T.JSON and source is not None and (tt.is_decimal(source) or tt.is_floating(source)):
        return _number_text(node.this, source)
    if is_json(source) and node.to.this in (T.VARCHAR, T.TEXT):
        return call("trino_json_to_varchar", text(node.this))
    if is_json(source) and node.to.this == T.FLOAT:  # a number past REAL's range is ±Infinity (Java's narrowing)
        double = type(node)(this=node.this.copy(), to=exp.DataType.build("DOUBLE"))
        # DuckDB reads a NaN a Python function returns as NULL: NaN is kept here
        return template("CASE WHEN isnan(:d) THEN CAST('NaN' AS REAL) ELSE trino_double_to_real(:d) END", d=double)
    if is_json(source) and node.to.this == T.BOOLEAN:
        return call("trino_json_to_boolean", text(node.this))
    members = node.to.expressions[-1:] if node.to.this in (T.ARRAY, T.MAP) else []
    if is_json(source) and members and isinstance(members[0], exp.DataType) and members[0].this in (T.VARCHAR, T.TEXT):
        return type(node)(this=cast(call("trino_json_members_as_text", text(node.this)), "JSON"), to=node.to.copy())
    if is_json(source) and node.to.this not in (T.JSON, T.STRUCT):
        # a JSON value may be text here (CAST(x AS JSON) is kept as text): DuckDB casts its JSON type
        return type(node)(this=cast(text(node.this), "JSON"), to=node.to.copy())
    return None


_SQL_JSON_PATH = re.compile(r"^\s*(?:(lax|strict)\s+)?(\$(?:\.[A-Za-z_][\w]*|\[\d+\])*)\s*$")


def _plain_path(path: exp.Expression, function: str) -> exp.Literal:
    """The SQL/JSON path ('lax $.a.b[0]') as the plain path DuckDB reads; richer paths are refused."""
    match = _SQL_JSON_PATH.match(path.this) if isinstance(path, exp.Literal) and path.is_string else None
    if match is None:
        raise not_supported(f"localaws runs {function} with a literal lax/strict path of keys and indexes only")
    return exp.Literal.string(match[2])


@translator(exp.JSONValue)
def json_value(node: exp.JSONValue) -> exp.Expression:
    """json_value: a scalar's text; NULL for a missing path, an object or an array (the default ON EMPTY/ERROR)."""
    if node.args.get("returning") or node.args.get("on_condition"):
        raise not_supported("localaws runs json_value without RETURNING or ON EMPTY/ON ERROR clauses")
    path = _plain_path(node.args["path"], "json_value")
    document = text(node.this)
    return template(
        "CASE WHEN json_type(CAST(:d AS JSON), :p) IN ('OBJECT', 'ARRAY') THEN NULL "
        "ELSE json_extract_string(CAST(:d AS JSON), :p) END",
        d=document,
        p=path,
    )


@translator(exp.JSONExtract)
def json_extract(node: exp.JSONExtract) -> exp.Expression | None:
    """json_query (SQL/JSON, a lax/strict path): the JSON text at the path; json_extract keeps sqlglot's."""
    if not node.args.get("json_query"):
        return None
    if node.args.get("option") or node.args.get("on_condition") or node.args.get("quote"):
        raise not_supported("localaws runs json_query without wrapper, quotes or ON EMPTY/ON ERROR clauses")
    path = _plain_path(node.expression, "json_query")
    return template("CAST(json_extract(CAST(:d AS JSON), :p) AS VARCHAR)", d=text(node.this), p=path)


@translator("json_exists")
def json_exists(node: exp.Anonymous) -> exp.Expression:
    document, path = node.expressions[:2]
    if len(node.expressions) > 2:
        raise not_supported("localaws runs json_exists without ON ERROR clauses")
    return template("json_exists(CAST(:d AS JSON), :p)", d=text(document), p=_plain_path(path, "json_exists"))


@translator(exp.JSONExtractScalar)
def json_extract_scalar(node: exp.JSONExtractScalar) -> exp.Expression:
    """NULL for an object or an array (DuckDB's ->> returns their text)."""
    return call("trino_json_extract_scalar", node.this, node.expression)


@translator(exp.JSONFormat)
def json_format(node: exp.JSONFormat) -> exp.Expression | None:
    """json_format(json): the JSON text as Trino writes it (compact, keys sorted, numbers as written: a decimal's
    3.00000 stays); DuckDB's to_json re-prints numbers."""
    if not is_json(tt.type_of(node.this)):
        return None
    return call("trino_json_canonical", text(node.this))


@translator("json_array_length")
def json_array_length(node: exp.Anonymous) -> exp.Expression:
    """The length of a JSON array; NULL for other JSON or text that is not JSON (DuckDB: 0, or an error).
    https://trino.io/docs/current/functions/json.html#json_array_length"""
    document = text(node.expressions[0])
    return template(
        "CASE WHEN json_valid(:d) AND json_type(CAST(:d AS JSON)) = 'ARRAY' THEN json_array_length(CAST(:d AS JSON)) "
        "END",
        d=document,
    )
