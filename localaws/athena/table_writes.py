"""Statements that write table data or change a table: CTAS, INSERT INTO, UNLOAD, ALTER TABLE.

Each reports the rows it wrote (UpdateCount), the files (the data manifest) and the bytes its query read; each leaves
S3 and Glue as they were when it fails: the query runs before anything is written, and files written before a failure
are deleted. https://docs.aws.amazon.com/athena/latest/ug/create-table-as.html, .../insert-into.html, .../unload.html,
.../alter-table-set-tblproperties.html, .../alter-table-add-columns.html
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

from localaws.athena import dialect, names
from localaws.athena.athena_types import UnknownTypeError, arrow_to_hive, hive_to_arrow
from localaws.athena.catalog import Catalog, split_s3_url
from localaws.athena.engine import Context, Engine
from localaws.athena.errors import QueryFailed
from localaws.athena.results import ResultSet
from localaws.athena.table_files import (
    DEFAULT_COMPRESSION,
    PARQUET_INPUT,
    PARQUET_OUTPUT,
    PARQUET_SERDE,
    Layout,
    compression_codec,
    delete,
    write,
)

_NAME = names.QUALIFIED


def writable(descriptor: dict) -> dict:
    keep = ("Columns", "InputFormat", "OutputFormat", "SerdeInfo", "Compressed", "Parameters", "Location")
    keep += ("BucketColumns", "NumberOfBuckets", "SortColumns", "StoredAsSubDirectories")
    return {k: v for k, v in descriptor.items() if k in keep}


def table_input(raw: dict) -> dict:
    """A GetTable answer as the TableInput UpdateTable takes."""
    keep = ("Name", "Description", "Owner", "Retention", "StorageDescriptor", "PartitionKeys", "TableType")
    keep += ("Parameters", "ViewOriginalText", "ViewExpandedText")
    result = {k: v for k, v in raw.items() if k in keep}
    if "StorageDescriptor" in result:
        result["StorageDescriptor"] = writable(result["StorageDescriptor"])
    return result


def properties(text: str) -> dict:
    """WITH (...) properties: format = 'PARQUET', partitioned_by = ARRAY['dt'], bucket_count = 4, ..."""
    found: dict = {}
    for key, value in re.findall(r"(\w+)\s*=\s*(ARRAY\s*\[[^\]]*\]|'(?:[^']|'')*'|[\w.+-]+)", text, flags=re.I):
        if value.upper().startswith("ARRAY"):
            found[key.lower()] = [v.lower() for v in re.findall(r"'([^']*)'", value)]
        else:
            found[key.lower()] = value[1:-1].replace("''", "'") if value.startswith("'") else value
    return found


def _update(rows: int, context: Context, files: list[str], bytes_scanned: int) -> ResultSet:
    context.update_count = rows
    context.data_files = files
    context.bytes_scanned = bytes_scanned
    result = ResultSet.from_arrow(pa.table({"rows": pa.array([rows], pa.int64())}))
    result.header = False  # a DDL or DML statement's rows carry no header row
    return result


@dataclass
class TableWrites:
    engine: Engine

    @property
    def catalog(self) -> Catalog:
        return self.engine.catalog

    def handlers(self):
        return (
            (
                rf"CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?{_NAME}\s*(?:WITH\s*\((.*?)\)\s*)?AS\s+(.+?)"
                r"(\s+WITH\s+(?:NO\s+)?DATA)?$",
                self.ctas,
            ),
            (rf"INSERT\s+INTO\s+{_NAME}\s*(\([^)]*\))?\s*((?:SELECT|WITH|VALUES|TABLE|\().+)$", self.insert_into),
            (r"UNLOAD\s*\((.+)\)\s*TO\s+'([^']+)'\s*WITH\s*\((.*)\)$", self.unload),
            (rf"ALTER\s+TABLE\s+{_NAME}\s+SET\s+TBLPROPERTIES\s*\((.*)\)$", self.set_table_properties),
            (rf"ALTER\s+TABLE\s+{_NAME}\s+ADD\s+COLUMNS\s*\((.*)\)$", self.add_columns),
        )

    # -- CTAS ----------------------------------------------------------------------------------------------
    def ctas(self, match, context: Context, cursor, query_id: str, output: str) -> ResultSet:
        if_not_exists = bool(match.group(1))
        database, name = names.split(match.group(2), context.database)
        options = properties(match.group(3) or "")
        with_data = not (match.group(5) or "").upper().replace(" ", "").endswith("NODATA")
        if str(options.get("table_type", "HIVE")).upper() != "HIVE":
            raise QueryFailed(f"NOT_SUPPORTED: localaws CTAS writes Hive tables only, not {options['table_type']}")
        if self.catalog.get_database(database) is None:
            raise QueryFailed(f"SCHEMA_NOT_FOUND: line 1:1: Schema '{database}' does not exist")
        if self.catalog.get_table(database, name, with_partitions=False) is not None:
            if if_not_exists:
                return _update(0, context, [], 0)
            raise QueryFailed(
                f"TABLE_ALREADY_EXISTS: line 1:1: Table 'awsdatacatalog.{database}.{name}' already exists"
            )
        file_format = str(options.get("format", "PARQUET")).upper()
        if file_format != "PARQUET":
            raise QueryFailed(f"NOT_SUPPORTED: localaws CTAS writes PARQUET only, not {file_format}")
        compression = str(options.get("write_compression", options.get("parquet_compression", DEFAULT_COMPRESSION)))
        compression_codec(compression)
        location = options.get("external_location") or f"{output.rstrip('/')}/tables/{query_id}/"
        location = location.rstrip("/") + "/"
        self._require_empty(location, f"Target directory for table '{database}.{name}' already exists: {location}.")
        outcome = self.engine.run(dialect.parse(match.group(4)), context, cursor)
        result = outcome.table if with_data else outcome.table.slice(0, 0)
        layout = self._layout(result.schema, options, location, compression)
        written = write(self.engine.fs, result, layout, query_id)
        try:
            self._register(database, name, result.schema, layout, written.partitions)
        except BaseException:
            delete(self.engine.fs, written.files)
            raise
        return _update(result.num_rows, context, written.files, outcome.bytes_scanned)

    @staticmethod
    def _layout(schema: pa.Schema, options: dict, location: str, compression: str) -> Layout:
        columns = [f.name for f in schema]
        partitioned_by = list(options.get("partitioned_by", []))
        if partitioned_by and columns[-len(partitioned_by) :] != partitioned_by:
            raise QueryFailed("HIVE_COLUMN_ORDER_MISMATCH: Partition keys must be the last columns in the table")
        if len(partitioned_by) == len(columns):
            raise QueryFailed("INVALID_TABLE_PROPERTY: Cannot partition by all columns of a table")
        bucketed_by = list(options.get("bucketed_by", []))
        missing = [c for c in bucketed_by if c not in columns or c in partitioned_by]
        if missing:
            raise QueryFailed(f"INVALID_TABLE_PROPERTY: Bucketing columns {missing} not present in schema")
        count = options.get("bucket_count")
        if bucketed_by and (count is None or not str(count).isdigit() or int(count) < 1):
            raise QueryFailed("INVALID_TABLE_PROPERTY: bucket_count must be set to a positive integer with bucketed_by")
        return Layout(location, partitioned_by, bucketed_by, int(count) if bucketed_by else 0, compression)

    def _register(self, database, name, schema: pa.Schema, layout: Layout, partitions: dict) -> None:
        data_fields = [f for f in schema if f.name not in layout.partitioned_by]
        descriptor: dict = {
            "Columns": [{"Name": f.name, "Type": arrow_to_hive(f.type)} for f in data_fields],
            "Location": layout.location,
            "InputFormat": PARQUET_INPUT,
            "OutputFormat": PARQUET_OUTPUT,
            "Compressed": layout.compression.upper() not in ("NONE", "UNCOMPRESSED"),
            "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
        }
        if layout.bucketed_by:
            descriptor["BucketColumns"] = layout.bucketed_by
            descriptor["NumberOfBuckets"] = layout.bucket_count
        parameters = {"classification": "parquet", "EXTERNAL": "TRUE", "has_encrypted_data": "false"}
        parameters["parquet.compression"] = layout.compression.upper()
        self.catalog.create_table(
            database,
            {
                "Name": name,
                "TableType": "EXTERNAL_TABLE",
                "Parameters": parameters,
                "StorageDescriptor": descriptor,
                "PartitionKeys": [
                    {"Name": k, "Type": arrow_to_hive(schema.field(k).type)} for k in layout.partitioned_by
                ],
            },
        )
        try:
            self._add_partitions(database, name, descriptor, partitions)
        except BaseException:
            self.catalog.delete_table(database, name)
            raise

    def _add_partitions(self, database: str, name: str, descriptor: dict, partitions: dict) -> None:
        inputs = [
            {"Values": list(values), "StorageDescriptor": {**writable(descriptor), "Location": folder}}
            for values, folder in sorted(partitions.items())
            if values
        ]
        self.catalog.create_partitions(database, name, inputs)

    def _require_empty(self, location: str, message: str) -> None:
        bucket, prefix = split_s3_url(location)
        try:
            listing = self.catalog.s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        except self.catalog.s3.exceptions.NoSuchBucket:
            raise QueryFailed(f"HIVE_PATH_ALREADY_EXISTS: The bucket {bucket} does not exist") from None
        if listing.get("KeyCount", 0):
            raise QueryFailed(
                f"HIVE_PATH_ALREADY_EXISTS: {message} "
                "You may need to manually clean the data at location before retrying."
            )

    # -- INSERT INTO ---------------------------------------------------------------------------------------
    def insert_into(self, match, context: Context, cursor, query_id: str, output: str) -> ResultSet:
        database, name = names.split(match.group(1), context.database)
        table = self.catalog.get_table(database, name)
        if table is None or table.is_view:
            raise QueryFailed(f"TABLE_NOT_FOUND: line 1:1: Table 'awsdatacatalog.{database}.{name}' does not exist")
        descriptor = table.raw.get("StorageDescriptor", {})
        if "parquet" not in f"{descriptor.get('InputFormat', '')} {descriptor.get('SerdeInfo', {})}".lower():
            raise QueryFailed(f"NOT_SUPPORTED: localaws inserts into Parquet tables only; {database}.{name} is not")
        outcome = self.engine.run(dialect.parse(match.group(3)), context, cursor)
        target = table.schema
        listed = [names.unquote(c) for c in re.findall(names.IDENTIFIER, match.group(2) or "")]
        unknown = [c for c in listed if c not in target.names]
        if unknown:
            raise QueryFailed(
                f"COLUMN_NOT_FOUND: line 1:1: Insert column name does not exist in target table: {unknown[0]}"
            )
        columns = listed or target.names
        rows = outcome.table
        if rows.num_columns != len(columns):
            wanted = ", ".join(str(target.field(c).type) for c in columns)
            given = ", ".join(str(t) for t in rows.schema.types)
            raise QueryFailed(
                "TYPE_MISMATCH: line 1:1: Insert query has mismatched column types: "
                f"Table: [{wanted}], Query: [{given}]"
            )
        arrays = {}
        for field in target:
            if field.name in columns:
                source = rows.column(columns.index(field.name))
                try:
                    arrays[field.name] = source.cast(field.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                    raise QueryFailed(
                        f"TYPE_MISMATCH: line 1:1: Insert query has mismatched column types for {field.name}: {error}"
                    ) from None
            else:
                arrays[field.name] = pa.nulls(rows.num_rows, field.type)
        data = pa.table(arrays, schema=target)
        keys = [k["Name"].lower() for k in table.partition_keys]
        layout = Layout(table.location, keys, [], 0, _table_compression(table.raw))
        if descriptor.get("BucketColumns") and descriptor.get("NumberOfBuckets", 0) > 0:
            layout.bucketed_by = [c.lower() for c in descriptor["BucketColumns"]]
            layout.bucket_count = descriptor["NumberOfBuckets"]
        known = {tuple(p["Values"]): p.get("StorageDescriptor", {}).get("Location", "") for p in table.partitions}
        written = write(self.engine.fs, data, layout, query_id, {k: v for k, v in known.items() if v})
        try:
            new = {values: folder for values, folder in written.partitions.items() if values and values not in known}
            self._add_partitions(database, name, descriptor, new)
        except BaseException:
            delete(self.engine.fs, written.files)
            raise
        return _update(data.num_rows, context, written.files, outcome.bytes_scanned)

    # -- UNLOAD --------------------------------------------------------------------------------------------
    def unload(self, match, context: Context, cursor, query_id: str, output: str) -> ResultSet:
        options = properties(match.group(3))
        location = match.group(2).rstrip("/") + "/"
        file_format = str(options.get("format", "")).upper()
        if not file_format:
            raise QueryFailed("INVALID_TABLE_PROPERTY: UNLOAD requires the format property")
        if file_format != "PARQUET":
            raise QueryFailed(f"NOT_SUPPORTED: localaws UNLOAD writes PARQUET only, not {file_format}")
        compression = str(options.get("compression", DEFAULT_COMPRESSION))
        compression_codec(compression)
        self._require_empty(location, f"Target directory for UNLOAD already exists: {location}.")
        outcome = self.engine.run(dialect.parse(match.group(1)), context, cursor)
        layout = self._layout(outcome.table.schema, {**options, "bucketed_by": []}, location, compression)
        written = write(self.engine.fs, outcome.table, layout, query_id)
        return _update(outcome.table.num_rows, context, written.files, outcome.bytes_scanned)

    # -- ALTER TABLE ---------------------------------------------------------------------------------------
    def set_table_properties(self, match, context: Context, cursor, query_id: str, output: str) -> ResultSet:
        database, name = names.split(match.group(1), context.database)
        table = self._existing(database, name)
        pairs = re.findall(r"'((?:[^']|'')*)'\s*=\s*'((?:[^']|'')*)'", match.group(2))
        if not pairs:
            raise QueryFailed("line 1:1: mismatched input ')'. Expecting: <string>", error_type=1005)
        update = table_input(table.raw)
        update["Parameters"] = {**update.get("Parameters", {}), **{k: v.replace("''", "'") for k, v in pairs}}
        self.catalog.update_table(database, update)
        return ResultSet.text("result", [])

    def add_columns(self, match, context: Context, cursor, query_id: str, output: str) -> ResultSet:
        database, name = names.split(match.group(1), context.database)
        table = self._existing(database, name)
        existing = {c["Name"].lower() for c in table.columns + table.partition_keys}
        added = []
        for definition in _split_columns(match.group(2)):
            found = re.match(r"\s*([`\"]?)(\w+)\1\s+(.+?)(?:\s+COMMENT\s+'([^']*)')?\s*$", definition, re.I | re.S)
            if not found:
                raise QueryFailed(f"line 1:1: mismatched input '{definition.strip()}'", error_type=1005)
            column, type_name = found.group(2).lower(), found.group(3).strip().lower()
            try:
                hive_to_arrow(type_name)
            except UnknownTypeError:
                raise QueryFailed(f"TYPE_NOT_FOUND: line 1:1: Unknown type '{type_name}'") from None
            if column in existing:
                raise QueryFailed(f"COLUMN_ALREADY_EXISTS: line 1:1: Column '{column}' already exists")
            existing.add(column)
            added.append({"Name": column, "Type": type_name, **({"Comment": found.group(4)} if found.group(4) else {})})
        update = table_input(table.raw)
        descriptor = update.setdefault("StorageDescriptor", {})
        descriptor["Columns"] = [*descriptor.get("Columns", []), *added]
        self.catalog.update_table(database, update)
        return ResultSet.text("result", [])

    def _existing(self, database: str, name: str):
        table = self.catalog.get_table(database, name, with_partitions=False)
        if table is None:
            raise QueryFailed(f"TABLE_NOT_FOUND: line 1:1: Table 'awsdatacatalog.{database}.{name}' does not exist")
        return table


def _table_compression(raw: dict) -> str:
    parameters = {k.lower(): v for k, v in raw.get("Parameters", {}).items()}
    name = parameters.get("parquet.compression") or parameters.get("write_compression") or DEFAULT_COMPRESSION
    return name if name.upper() in ("GZIP", "SNAPPY", "ZSTD", "LZ4", "NONE", "UNCOMPRESSED") else DEFAULT_COMPRESSION


def _split_columns(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts
