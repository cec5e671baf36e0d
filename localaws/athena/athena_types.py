"""Athena's type names: Glue/Hive column types -> Arrow types (to read tables), Arrow -> Athena (to describe results).

Athena engine v3 type names: https://docs.aws.amazon.com/athena/latest/ug/data-types.html
"""

from __future__ import annotations

import re

import pyarrow as pa

_SIMPLE = {
    "string": pa.string(),
    "varchar": pa.string(),
    "char": pa.string(),
    "bigint": pa.int64(),
    "int": pa.int32(),
    "integer": pa.int32(),
    "smallint": pa.int16(),
    "tinyint": pa.int8(),
    "double": pa.float64(),
    "float": pa.float32(),
    "real": pa.float32(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "binary": pa.binary(),
    "varbinary": pa.binary(),
}


class UnknownTypeError(ValueError):
    pass


def _split_top_level(text: str, sep: str = ",") -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        if char == sep and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def hive_to_arrow(type_name: str) -> pa.DataType:
    """The Arrow type that reads a Glue column declared as `type_name` (string, array<struct<a:int>>, ...)."""
    text = type_name.strip().lower()
    base = re.match(r"^[a-z_ ]+", text)
    head = base.group(0).strip() if base else text
    if head == "decimal":
        match = re.match(r"decimal\((\d+)\s*,\s*(\d+)\)", text)
        precision, scale = (int(match[1]), int(match[2])) if match else (10, 0)
        return pa.decimal128(precision, scale)
    if head in ("varchar", "char") or text in _SIMPLE:
        return _SIMPLE[head]
    if head in ("array", "map", "struct", "row") and text.endswith(">"):
        inner = text[text.index("<") + 1 : -1]
        if head == "array":
            return pa.list_(hive_to_arrow(inner))
        if head == "map":
            key, value = _split_top_level(inner)
            return pa.map_(hive_to_arrow(key), hive_to_arrow(value))
        fields = []
        for member in _split_top_level(inner):
            name, _, member_type = member.partition(":")
            fields.append(pa.field(name.strip(), hive_to_arrow(member_type)))
        return pa.struct(fields)
    raise UnknownTypeError(f"Unknown type: {type_name}")


def arrow_to_athena(dtype: pa.DataType) -> str:
    """Athena's full type name for an Arrow type, as SHOW/DESCRIBE and CTAS write it (array(varchar), row(a bigint))."""
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return f"array({arrow_to_athena(dtype.value_type)})"
    if pa.types.is_map(dtype):
        return f"map({arrow_to_athena(dtype.key_type)}, {arrow_to_athena(dtype.item_type)})"
    if pa.types.is_struct(dtype):
        members = ", ".join(f"{f.name} {arrow_to_athena(f.type)}" for f in dtype)
        return f"row({members})"
    if pa.types.is_decimal(dtype):
        return f"decimal({dtype.precision},{dtype.scale})"
    return result_type(dtype)


def arrow_to_hive(dtype: pa.DataType) -> str:
    """The Glue column type for an Arrow type (CTAS registers its table with these)."""
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return f"array<{arrow_to_hive(dtype.value_type)}>"
    if pa.types.is_map(dtype):
        return f"map<{arrow_to_hive(dtype.key_type)},{arrow_to_hive(dtype.item_type)}>"
    if pa.types.is_struct(dtype):
        return "struct<" + ",".join(f"{f.name}:{arrow_to_hive(f.type)}" for f in dtype) + ">"
    if pa.types.is_decimal(dtype):
        return f"decimal({dtype.precision},{dtype.scale})"
    name = result_type(dtype)
    return {"varchar": "string", "integer": "int", "real": "float", "timestamp with time zone": "timestamp"}.get(
        name, name
    )


# A TIMESTAMP WITH TIME ZONE outside UTC leaves DuckDB as this struct (functions/timezones.py: output).
ZONED_FIELDS = ("trino_instant", "trino_local", "trino_zone")


def is_zoned_struct(dtype: pa.DataType) -> bool:
    return pa.types.is_struct(dtype) and tuple(f.name for f in dtype) == ZONED_FIELDS


def result_type(dtype: pa.DataType) -> str:
    """ResultSetMetadata.ColumnInfo.Type: the short name Athena reports (varchar, bigint, array, map, row, ...)."""
    if is_zoned_struct(dtype):
        return "timestamp with time zone"
    if isinstance(dtype, pa.ExtensionType):
        return "json" if "json" in str(dtype.extension_name).lower() else result_type(dtype.storage_type)
    checks = (
        (pa.types.is_string, "varchar"),
        (pa.types.is_large_string, "varchar"),
        (pa.types.is_string_view, "varchar"),
        (pa.types.is_int64, "bigint"),
        (pa.types.is_int32, "integer"),
        (pa.types.is_int16, "smallint"),
        (pa.types.is_int8, "tinyint"),
        (pa.types.is_unsigned_integer, "bigint"),
        (pa.types.is_float64, "double"),
        (pa.types.is_float32, "real"),
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_date, "date"),
        (pa.types.is_decimal, "decimal"),
        (pa.types.is_list, "array"),
        (pa.types.is_large_list, "array"),
        (pa.types.is_map, "map"),
        (pa.types.is_struct, "row"),
        (pa.types.is_binary, "varbinary"),
        (pa.types.is_large_binary, "varbinary"),
        (pa.types.is_time, "time"),
        (pa.types.is_duration, "interval day to second"),
        (pa.types.is_interval, "interval day to second"),
        (pa.types.is_null, "unknown"),
    )
    if pa.types.is_timestamp(dtype):
        return "timestamp with time zone" if dtype.tz else "timestamp"
    for check, name in checks:
        if check(dtype):
            return name
    return str(dtype)


# Precision and scale as Athena reports them in ColumnInfo (varchar is unbounded, timestamps have 3 digits).
_PRECISION = {
    "varchar": (2147483647, 0),
    "bigint": (19, 0),
    "integer": (10, 0),
    "smallint": (5, 0),
    "tinyint": (3, 0),
    "double": (17, 0),
    "real": (17, 0),
    "timestamp": (3, 0),
    "timestamp with time zone": (3, 0),
    "json": (0, 0),
}


def column_info(name: str, dtype: pa.DataType, table: str = "", schema: str = "") -> dict:
    """One ResultSetMetadata.ColumnInfo entry. https://docs.aws.amazon.com/athena/latest/APIReference/API_ColumnInfo.html"""
    type_name = result_type(dtype)
    precision, scale = _PRECISION.get(type_name, (0, 0))
    if pa.types.is_decimal(dtype):
        precision, scale = dtype.precision, dtype.scale
    return {
        "CatalogName": "hive",
        "SchemaName": schema,
        "TableName": table,
        "Name": name,
        "Label": name,
        "Type": type_name,
        "Precision": precision,
        "Scale": scale,
        "Nullable": "UNKNOWN",
        "CaseSensitive": type_name in ("varchar", "char", "json"),
    }
