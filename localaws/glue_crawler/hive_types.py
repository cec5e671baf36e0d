"""Arrow types (as pyarrow reads them from a Parquet footer) -> the Hive type strings a Glue crawler writes.

Glue's Parquet classifier takes the schema from the file footer (https://docs.aws.amazon.com/glue/latest/dg/add-classifier.html)
and records Hive DDL types, which Athena reads (https://docs.aws.amazon.com/athena/latest/ug/data-types.html).

Choices that follow observed Glue behaviour rather than a documented table:
- TIMESTAMP(NANOS) (pyarrow >= 13 writes it for pandas datetime64[ns]) is typed `bigint`: Glue's Hive Parquet reader
  knows only millis/micros, so it falls back to the INT64 physical type
  (pitfall P10; techblog.otakashi.jp/archives/559).
  An INT96 column (which pyarrow also reads as timestamp[ns]) is the legacy Hive timestamp and stays `timestamp`.
- Unsigned integers widen to the next signed Hive type; uint64 has none wider and stays `bigint`.
- A dictionary-encoded column is typed by its value type.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.types as pat

_SIMPLE: tuple[tuple[object, str], ...] = (
    (pat.is_boolean, "boolean"),
    (pat.is_int8, "tinyint"),
    (pat.is_int16, "smallint"),
    (pat.is_int32, "int"),
    (pat.is_int64, "bigint"),
    (pat.is_uint8, "smallint"),
    (pat.is_uint16, "int"),
    (pat.is_uint32, "bigint"),
    (pat.is_uint64, "bigint"),
    (pat.is_float16, "float"),
    (pat.is_float32, "float"),
    (pat.is_float64, "double"),
    (pat.is_string, "string"),
    (pat.is_large_string, "string"),
    (pat.is_string_view, "string"),
    (pat.is_binary, "binary"),
    (pat.is_large_binary, "binary"),
    (pat.is_binary_view, "binary"),
    (pat.is_fixed_size_binary, "binary"),
    (pat.is_date, "date"),
    (pat.is_time, "bigint"),
    (pat.is_duration, "bigint"),
    (pat.is_null, "string"),
)


def hive_type(arrow_type: pa.DataType, physical_type: str | None = None) -> str:
    """The Glue/Hive type for an Arrow type; `physical_type` is the Parquet leaf's physical type when known."""
    if pat.is_dictionary(arrow_type):
        return hive_type(arrow_type.value_type, physical_type)
    if pat.is_timestamp(arrow_type):
        if arrow_type.unit == "ns" and physical_type != "INT96":
            return "bigint"
        return "timestamp"
    if pat.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if pat.is_list(arrow_type) or pat.is_large_list(arrow_type) or pat.is_fixed_size_list(arrow_type):
        return f"array<{hive_type(arrow_type.value_type)}>"
    if pat.is_list_view(arrow_type) or pat.is_large_list_view(arrow_type):
        return f"array<{hive_type(arrow_type.value_type)}>"
    if pat.is_map(arrow_type):
        return f"map<{hive_type(arrow_type.key_type)},{hive_type(arrow_type.item_type)}>"
    if pat.is_struct(arrow_type):
        fields = ",".join(f"{field.name}:{hive_type(field.type)}" for field in arrow_type)
        return f"struct<{fields}>"
    for matches, name in _SIMPLE:
        if matches(arrow_type):
            return name
    raise ValueError(f"no Glue/Hive type for Arrow type {arrow_type}")


def columns_from_metadata(metadata) -> list[tuple[str, str]]:
    """(name, hive type) for each top-level column of a Parquet file, from its pyarrow FileMetaData.

    Glue lower-cases column names: the Data Catalog and Athena are case-insensitive
    (https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html).
    """
    arrow_schema = metadata.schema.to_arrow_schema()
    physical = _top_level_physical_types(metadata.schema)
    return [(field.name.lower(), hive_type(field.type, physical.get(field.name))) for field in arrow_schema]


def _top_level_physical_types(parquet_schema) -> dict[str, str]:
    """Physical type of each top-level primitive column (nested columns have dotted paths and are skipped)."""
    types = {}
    for index in range(len(parquet_schema)):
        column = parquet_schema.column(index)
        if "." not in column.path:
            types[column.path] = column.physical_type
    return types
