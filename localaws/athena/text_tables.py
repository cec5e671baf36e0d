"""Delimited text tables (TEXTFILE with LazySimpleSerDe, OpenCSVSerde), read as Athena reads them.

https://docs.aws.amazon.com/athena/latest/ug/lazy-simple-serde.html: fields split on `field.delim` (default \\x01),
`\\N` is NULL, an empty field is NULL for a non-string column, `skip.header.line.count` skips header lines;
https://docs.aws.amazon.com/athena/latest/ug/csv-serde.html (OpenCSVSerde): `separatorChar`, `quoteChar`, every value
a string. Columns map by position. Bytes scanned is the size of the files read, as Athena bills text.
awswrangler's `s3.to_csv(dataset=True)` and dbt-athena's seeds register such tables.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from localaws.athena.catalog import Table
from localaws.athena.cost import DataFile, TableScan
from localaws.athena.errors import QueryFailed

LAZY_SIMPLE = "org.apache.hadoop.hive.serde2.lazy.lazysimpleserde"
OPEN_CSV = "org.apache.hadoop.hive.serde2.opencsvserde"


def is_text_table(table: Table) -> bool:
    serde = table.raw.get("StorageDescriptor", {}).get("SerdeInfo", {}).get("SerializationLibrary", "").lower()
    return serde in (LAZY_SIMPLE, OPEN_CSV)


def _simple(dtype: pa.DataType) -> bool:
    return not (pa.types.is_nested(dtype) or pa.types.is_map(dtype))


def build_text_scan(table: Table, files: list[DataFile], fs: pafs.FileSystem) -> TableScan:
    descriptor = table.raw.get("StorageDescriptor", {})
    serde = descriptor.get("SerdeInfo", {})
    parameters = {**serde.get("Parameters", {})}
    table_parameters = table.raw.get("Parameters", {})
    partition_names = {key["Name"].lower() for key in table.partition_keys}
    data = [f for f in table.schema if f.name not in partition_names]
    complex_columns = [f.name for f in data if not _simple(f.type)]
    if complex_columns:
        raise QueryFailed(f"NOT_SUPPORTED: localaws reads text tables of simple columns only, not {complex_columns[0]}")
    open_csv = serde.get("SerializationLibrary", "").lower() == OPEN_CSV
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
    convert = pacsv.ConvertOptions(
        column_types={f.name: pa.string() for f in data},
        null_values=[] if open_csv else ["\\N"],
        strings_can_be_null=not open_csv,
    )
    file_format = ds.CsvFileFormat(parse_options=parse, read_options=read, convert_options=convert)
    schema = pa.schema(
        [pa.field(f.name, pa.string()) for f in data]
        + [table.schema.field(n) for n in table.schema.names if n in partition_names]
    )
    fragments = []
    for file in files:
        expression = None
        for name, value in file.partition.items():
            term = pc.field(name) == pa.scalar(value).cast(table.schema.field(name).type)
            expression = term if expression is None else expression & term
        fragments.append(file_format.make_fragment(file.path, fs, partition_expression=expression))
    raw = ds.FileSystemDataset(fragments, schema, file_format, fs).to_table()
    columns = {}
    for field in table.schema:
        column = raw.column(field.name)
        if field.name in partition_names or pa.types.is_string(field.type):
            columns[field.name] = column
            continue
        text = pc.if_else(pc.equal(pc.utf8_trim_whitespace(column), ""), pa.scalar(None, pa.string()), column)
        columns[field.name] = _cast_or_null(text, field.type)
    typed = pa.table(columns, schema=table.schema)
    return TableScan(ds.dataset(typed), sum(f.size for f in files), len(files))


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
