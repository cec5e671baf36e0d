"""Delimited text tables (TEXTFILE with LazySimpleSerDe, OpenCSVSerde), read as Athena reads them.

https://docs.aws.amazon.com/athena/latest/ug/lazy-simple-serde.html: fields split on `field.delim` (default \\x01),
`\\N` (or `serialization.null.format`) is NULL, an empty field is NULL for a non-string column, an array/map/struct of
simple types splits on `collection.delim` and `mapkey.delim`, `skip.header.line.count` skips header lines;
https://docs.aws.amazon.com/athena/latest/ug/csv-serde.html (OpenCSVSerde): `separatorChar`, `quoteChar`,
`escapeChar`; every value is read as a string, then BOOLEAN, INT, BIGINT and DOUBLE are parsed, a TIMESTAMP is UNIX
milliseconds and a DATE days since 1970-01-01; a value that does not parse (an empty one too) fails the query with
HIVE_BAD_DATA unless the table property `use.null.for.invalid.data` is true. Columns map by position. Bytes scanned is
the size of the files read, as Athena bills text (https://aws.amazon.com/athena/pricing/: text cannot be pruned to
columns).
awswrangler's `s3.to_csv(dataset=True)` and dbt-athena's seeds register such tables.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from localaws.athena import pseudo_columns
from localaws.athena.catalog import Table
from localaws.athena.cost import DataFile, TableScan, partition_expression
from localaws.athena.errors import QueryFailed

LAZY_SIMPLE = "org.apache.hadoop.hive.serde2.lazy.lazysimpleserde"
OPEN_CSV = "org.apache.hadoop.hive.serde2.opencsvserde"


def is_text_table(table: Table) -> bool:
    serde = table.raw.get("StorageDescriptor", {}).get("SerdeInfo", {}).get("SerializationLibrary", "").lower()
    return serde in (LAZY_SIMPLE, OPEN_CSV)


def _simple(dtype: pa.DataType) -> bool:
    return not (pa.types.is_nested(dtype) or pa.types.is_map(dtype))


def build_text_scan(table: Table, files: list[DataFile], fs: pafs.FileSystem, hidden: bool = False) -> TableScan:
    descriptor = table.raw.get("StorageDescriptor", {})
    serde = descriptor.get("SerdeInfo", {})
    parameters = {**serde.get("Parameters", {})}
    table_parameters = table.raw.get("Parameters", {})
    partition_names = {key["Name"].lower() for key in table.partition_keys}
    data = [f for f in table.schema if f.name not in partition_names]
    open_csv = serde.get("SerializationLibrary", "").lower() == OPEN_CSV
    complex_columns = [f.name for f in data if not _simple(f.type) and (open_csv or not _one_level(f.type))]
    if complex_columns:
        raise QueryFailed(
            f"NOT_SUPPORTED: localaws reads text columns of simple types, and with LazySimpleSerDe arrays, maps and "
            f"structs of simple types, not {complex_columns[0]}"
        )
    if open_csv:
        delimiter = parameters.get("separatorChar", ",")
        quote = parameters.get("quoteChar", '"')
        parse = pacsv.ParseOptions(
            delimiter=delimiter, quote_char=quote or False, escape_char=parameters.get("escapeChar", "\\")
        )
    else:
        delimiter = parameters.get("field.delim", parameters.get("serialization.format", "\x01"))
        delimiter = "\x01" if delimiter in ("", "1") else delimiter
        parse = pacsv.ParseOptions(
            delimiter=delimiter, quote_char=False, escape_char=parameters.get("escape.delim") or False
        )
    skip = int(table_parameters.get("skip.header.line.count", "0") or 0)
    read = pacsv.ReadOptions(column_names=[f.name for f in data], skip_rows=skip)
    null_text = parameters.get("serialization.null.format", "\\N")
    convert = pacsv.ConvertOptions(
        column_types={f.name: pa.string() for f in data},
        null_values=[] if open_csv else [null_text],
        strings_can_be_null=not open_csv,
    )
    file_format = ds.CsvFileFormat(parse_options=parse, read_options=read, convert_options=convert)
    hidden_fields = pseudo_columns.fields() if hidden else []
    schema = pa.schema(
        [pa.field(f.name, pa.string()) for f in data]
        + [table.schema.field(n) for n in table.schema.names if n in partition_names]
        + hidden_fields
    )
    fragments = [
        file_format.make_fragment(file.path, fs, partition_expression=partition_expression(schema, file, hidden))
        for file in files
    ]
    raw = ds.FileSystemDataset(fragments, schema, file_format, fs).to_table()
    lenient = table_parameters.get("use.null.for.invalid.data", "false").strip().lower() == "true"
    columns = {}
    for index, field in enumerate(table.schema):
        column = raw.column(field.name)
        if field.name in partition_names or pa.types.is_string(field.type):
            columns[field.name] = column
        elif open_csv:
            columns[field.name] = _open_csv_values(column, field.type, index, lenient)
        elif not _simple(field.type):
            columns[field.name] = _collection_values(column, field.type, parameters, null_text)
        else:
            text = pc.if_else(pc.equal(pc.utf8_trim_whitespace(column), ""), pa.scalar(None, pa.string()), column)
            columns[field.name] = _cast_or_null(text, field.type)
    for hidden_field in hidden_fields:
        columns[hidden_field.name] = raw.column(hidden_field.name)
    typed = pa.table(columns, schema=pa.schema([*table.schema, *hidden_fields]))
    return TableScan(ds.dataset(typed), sum(f.size for f in files), len(files))


def _one_level(dtype: pa.DataType) -> bool:
    if pa.types.is_map(dtype):
        return _simple(dtype.key_type) and _simple(dtype.item_type)
    if pa.types.is_list(dtype):
        return _simple(dtype.value_type)
    return pa.types.is_struct(dtype) and all(_simple(f.type) for f in dtype)


def _item(text: str, dtype: pa.DataType, null_text: str):
    if text == null_text or (text.strip() == "" and not pa.types.is_string(dtype)):
        return None
    return _cast_or_null(pa.chunked_array([[text]], pa.string()), dtype)[0].as_py()


def _collection_values(text: pa.ChunkedArray, dtype: pa.DataType, parameters: dict, null_text: str) -> pa.Array:
    """LazySimpleSerDe's collections: items split on `collection.delim` (default \\x02), a map's key from its value
    on `mapkey.delim` (default \\x03), a struct's fields in order on `collection.delim`."""
    items = parameters.get("collection.delim", "\x02")
    keys = parameters.get("mapkey.delim", "\x03")
    values = []
    for value in text.to_pylist():
        if value is None:
            values.append(None)
        elif pa.types.is_list(dtype):
            values.append([_item(v, dtype.value_type, null_text) for v in value.split(items)] if value else [])
        elif pa.types.is_map(dtype):
            pairs = [[*pair.split(keys, 1), null_text] for pair in value.split(items)] if value else []
            values.append(
                [(_item(k, dtype.key_type, null_text), _item(v, dtype.item_type, null_text)) for k, v, *_ in pairs]
            )
        else:
            parts = value.split(items)
            values.append(
                {f.name: _item(parts[i], f.type, null_text) if i < len(parts) else None for i, f in enumerate(dtype)}
            )
    return pa.array(values, dtype)


def _open_csv_values(text: pa.ChunkedArray, dtype: pa.DataType, index: int, lenient: bool) -> pa.Array:
    """OpenCSVSerde's typed columns: numbers and booleans parsed, TIMESTAMP as UNIX milliseconds, DATE as days."""
    values = []
    for value in text.to_pylist():
        try:
            if pa.types.is_timestamp(dtype):
                parsed = pa.scalar(int(value), pa.int64()).cast(pa.timestamp("ms")).cast(dtype)
            elif pa.types.is_date(dtype):
                parsed = pa.scalar(int(value), pa.int32()).cast(pa.date32())
            elif pa.types.is_boolean(dtype):
                if value.strip().lower() not in ("true", "false"):
                    raise ValueError(value)
                parsed = pa.scalar(value.strip().lower() == "true")
            else:
                parsed = pc.cast(pa.scalar(value.strip() if value.strip() else value), dtype)
            values.append(parsed.as_py())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, OverflowError):
            if not lenient:
                raise QueryFailed(
                    f"HIVE_BAD_DATA: Error parsing field value '{value}' for field {index}: "
                    f'For input string: "{value}"',
                    error_type=1002,
                ) from None
            values.append(None)
    return pa.array(values, dtype)


def _cast_or_null(text: pa.ChunkedArray, dtype: pa.DataType) -> pa.Array:
    """Hive's text reader reads a value it cannot parse as NULL, never failing the query."""
    try:
        return pc.cast(text, dtype)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = []
        for value in text.to_pylist():
            try:
                values.append(None if value is None else pc.cast(pa.scalar(value), dtype).as_py())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                values.append(None)
        return pa.array(values, dtype)
