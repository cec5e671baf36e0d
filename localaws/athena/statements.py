"""The statements tutorials run besides SELECT: SHOW, DESCRIBE, MSCK REPAIR TABLE, views, CTAS, DROP, EXPLAIN.

References: https://docs.aws.amazon.com/athena/latest/ug/ddl-reference.html (SHOW TABLES, SHOW PARTITIONS,
DESCRIBE, MSCK REPAIR TABLE, CREATE VIEW, DROP TABLE), .../create-table-as.html (CTAS properties),
.../athena-explain-statement.html.
Athena's StatementType: DDL (CREATE, DROP, MSCK), DML (SELECT, CTAS counts as DDL), UTILITY (SHOW, DESCRIBE, EXPLAIN).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

import pyarrow as pa

from localaws.athena import dialect, names
from localaws.athena.alter_table import AlterTable
from localaws.athena.athena_types import arrow_to_athena, arrow_to_hive, column_info
from localaws.athena.catalog import Catalog, Table, split_s3_url, view_original_text
from localaws.athena.create_table import CreateTable
from localaws.athena.engine import Context, Engine
from localaws.athena.errors import QueryFailed
from localaws.athena.results import ResultSet
from localaws.athena.table_files import PARQUET_INPUT, PARQUET_OUTPUT, PARQUET_SERDE
from localaws.athena.table_writes import TableWrites, writable

_NAME = names.QUALIFIED


def normalise(sql: str) -> str:
    """The statement without leading comments, surrounding space or a trailing semicolon."""
    text = re.sub(r"^\s*(--[^\n]*\n|/\*.*?\*/\s*)*", "", sql, flags=re.S).strip()
    return text.rstrip(";").strip()


def statement_type(sql: str) -> tuple[str, str]:
    """(StatementType, SubstatementType) as GetQueryExecution reports them."""
    words = normalise(sql).split(None, 3)
    first = words[0].upper() if words else ""
    second = words[1].upper() if len(words) > 1 else ""
    if first in ("SELECT", "WITH", "VALUES", "TABLE", "("):
        return "DML", "SELECT"
    if first in ("INSERT", "UPDATE", "DELETE", "MERGE", "UNLOAD"):
        return "DML", first
    if first in ("SHOW", "DESCRIBE", "DESC", "EXPLAIN"):
        return "UTILITY", "_".join(w.upper() for w in words[:2]) if first == "SHOW" else first
    if first == "CREATE" and " AS " in f" {normalise(sql).upper()} " and "VIEW" not in second:
        return "DDL", "CREATE_TABLE_AS_SELECT"
    return "DDL", f"{first}_{second}".strip("_")


def _properties(head: str, properties: dict[str, str]) -> list[str]:
    """SHOW CREATE TABLE's `'key'='value'` list, as Athena prints SERDEPROPERTIES and TBLPROPERTIES."""
    if not properties:
        return []
    pairs = [f"  '{k}'='{v}'" for k, v in sorted(properties.items())]
    return [head, *[f"{pair}," for pair in pairs[:-1]], f"{pairs[-1]})"]


@dataclass
class Statements:
    engine: Engine

    @property
    def catalog(self) -> Catalog:
        return self.engine.catalog

    def run(self, sql: str, context: Context, cursor, query_id: str, output: str) -> ResultSet | None:
        """The result of a utility or DDL statement, or None when `sql` is a query for the engine."""
        text = normalise(sql)
        for pattern, handler in self._handlers():
            match = re.match(pattern, text, flags=re.I | re.S)
            if match:
                return handler(match, context, cursor, query_id, output)
        return None

    def _handlers(self):
        return (
            (rf"SHOW\s+TABLES(?:\s+(?:IN|FROM)\s+{_NAME})?(?:\s+(?:LIKE\s+)?'([^']*)')?$", self.show_tables),
            (r"SHOW\s+(?:DATABASES|SCHEMAS)(?:\s+LIKE)?(?:\s+'([^']*)')?$", self.show_databases),
            (rf"SHOW\s+PARTITIONS\s+{_NAME}$", self.show_partitions),
            (rf"SHOW\s+COLUMNS\s+(?:IN|FROM)\s+{_NAME}$", self.show_columns),
            (rf"SHOW\s+CREATE\s+(?:TABLE|VIEW)\s+{_NAME}$", self.show_create),
            (rf"(?:DESCRIBE|DESC)\s+(?:FORMATTED\s+|EXTENDED\s+)?{_NAME}$", self.describe),
            (rf"MSCK\s+REPAIR\s+TABLE\s+{_NAME}$", self.msck_repair),
            (rf"CREATE\s+(OR\s+REPLACE\s+)?VIEW\s+{_NAME}\s+AS\s+(.+)$", self.create_view),
            (rf"DROP\s+(VIEW|TABLE)\s+(IF\s+EXISTS\s+)?{_NAME}$", self.drop),
            (r"CREATE\s+(?:DATABASE|SCHEMA)\s+(IF\s+NOT\s+EXISTS\s+)?[`\"]?(\w+)[`\"]?.*$", self.create_database),
            (r"DROP\s+(?:DATABASE|SCHEMA)\s+(IF\s+EXISTS\s+)?[`\"]?(\w+)[`\"]?(\s+CASCADE)?$", self.drop_database),
            *TableWrites(self.engine).handlers(),
            *CreateTable(self.engine).handlers(),
            *AlterTable(self.engine).handlers(),
            (r"EXPLAIN\s+(?:ANALYZE\s+)?(.+)$", self.explain),
        )

    # -- helpers ---------------------------------------------------------------------------------------------
    @staticmethod
    def _names(match: re.Match, group: int, context: Context) -> tuple[str, str]:
        return names.split(match.group(group), context.database)

    def _table(self, database: str, name: str) -> Table:
        table = self.catalog.get_table(database, name)
        if table is None:
            raise QueryFailed(f"TABLE_NOT_FOUND: line 1:1: Table 'awsdatacatalog.{database}.{name}' does not exist")
        return table

    # -- SHOW / DESCRIBE ------------------------------------------------------------------------------------
    def show_tables(self, match, context, cursor, query_id, output):
        database = names.database_name(match.group(1) or "", context.database)
        if self.catalog.get_database(database) is None:
            raise QueryFailed(f"SCHEMA_NOT_FOUND: line 1:1: Schema '{database}' does not exist")
        tables = sorted(t["Name"] for t in self.catalog.get_tables(database))
        pattern = match.group(2)
        if pattern:
            tables = [n for n in tables if any(fnmatch.fnmatch(n, p.strip()) for p in pattern.split("|"))]
        return ResultSet.text("tab_name", tables)

    def show_databases(self, match, context, cursor, query_id, output):
        names = sorted(d["Name"] for d in self.catalog.get_databases())
        if match.group(1):
            names = [n for n in names if fnmatch.fnmatch(n, match.group(1).replace("%", "*"))]
        return ResultSet.text("database_name", names)

    def show_partitions(self, match, context, cursor, query_id, output):
        table = self._table(*self._names(match, 1, context))
        if not table.partition_keys:
            raise QueryFailed(f"NOT_SUPPORTED: Table {table.database}.{table.name} is not partitioned")
        keys = [k["Name"] for k in table.partition_keys]
        lines = sorted("/".join(f"{k}={v}" for k, v in zip(keys, p["Values"], strict=False)) for p in table.partitions)
        return ResultSet.text("partition", lines)

    def show_columns(self, match, context, cursor, query_id, output):
        table = self._table(*self._names(match, 1, context))
        return ResultSet.text("field", [f.name for f in table.schema])

    def describe(self, match, context, cursor, query_id, output):
        table = self._table(*self._names(match, 1, context))
        lines = [f"{c['Name']:<20}\t{c['Type']:<20}\t{c.get('Comment', '')}" for c in table.columns]
        lines += [f"{c['Name']:<20}\t{c['Type']:<20}\t{c.get('Comment', '')}" for c in table.partition_keys]
        if table.partition_keys:
            lines += ["", "# Partition Information", f"{'# col_name':<20}\t{'data_type':<20}\tcomment", ""]
            lines += [f"{c['Name']:<20}\t{c['Type']:<20}\t{c.get('Comment', '')}" for c in table.partition_keys]
        result = ResultSet.text("col_name", lines)
        # Athena's DESCRIBE declares three columns while each row holds one tab-separated line; awswrangler's
        # describe_table reads the .txt file with those three names.
        result.columns = [column_info(name, pa.string()) for name in ("col_name", "data_type", "comment")]
        return result

    def show_create(self, match, context, cursor, query_id, output):
        table = self._table(*self._names(match, 1, context))
        if table.is_view:
            return ResultSet.text("Create View", [f'CREATE VIEW "{table.database}"."{table.name}" AS', table.view_sql])
        columns = ",\n".join(f"  `{c['Name']}` {c['Type']}" for c in table.columns)
        lines = [f"CREATE EXTERNAL TABLE `{table.database}`.`{table.name}`(", columns, ")"]
        if table.partition_keys:
            keys = ",\n".join(f"  `{c['Name']}` {c['Type']}" for c in table.partition_keys)
            lines += ["PARTITIONED BY (", keys, ")"]
        descriptor = table.raw.get("StorageDescriptor", {})
        lines += [
            "ROW FORMAT SERDE",
            f"  '{descriptor.get('SerdeInfo', {}).get('SerializationLibrary', PARQUET_SERDE)}'",
        ]
        lines += _properties("WITH SERDEPROPERTIES (", descriptor.get("SerdeInfo", {}).get("Parameters", {}))
        lines += [
            "STORED AS INPUTFORMAT",
            f"  '{descriptor.get('InputFormat', PARQUET_INPUT)}'",
            "OUTPUTFORMAT",
            f"  '{descriptor.get('OutputFormat', PARQUET_OUTPUT)}'",
            "LOCATION",
            f"  '{table.location}'",
        ]
        lines += _properties("TBLPROPERTIES (", table.raw.get("Parameters", {}))
        return ResultSet.text("createtab_stmt", "\n".join(lines).split("\n"))

    # -- MSCK REPAIR TABLE: add key=value folders that Glue does not list --------------------------------------
    def msck_repair(self, match, context, cursor, query_id, output):
        table = self._table(*self._names(match, 1, context))
        keys = [k["Name"] for k in table.partition_keys]
        if not keys:
            return ResultSet.text("result", [])
        bucket, prefix = split_s3_url(table.location.rstrip("/") + "/")
        known = {tuple(p["Values"]) for p in table.partitions}
        found: dict[tuple[str, ...], str] = {}
        for page in self.catalog.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                parts = item["Key"][len(prefix) :].split("/")[: len(keys)]
                pairs = [part.split("=", 1) for part in parts]
                if len(pairs) == len(keys) and all(
                    len(p) == 2 and p[0].lower() == k.lower() for p, k in zip(pairs, keys, strict=True)
                ):
                    values = tuple(p[1] for p in pairs)
                    found.setdefault(values, f"s3://{bucket}/{prefix}{'/'.join(parts)}/")
        missing = sorted(set(found) - known)
        descriptor = table.raw.get("StorageDescriptor", {})
        inputs = [
            {"Values": list(values), "StorageDescriptor": {**writable(descriptor), "Location": found[values]}}
            for values in missing
        ]
        self.catalog.create_partitions(table.database, table.name, inputs)
        names = ["/".join(f"{k}={v}" for k, v in zip(keys, values, strict=True)) for values in missing]
        lines = [f"Partitions not in metastore:\t{' '.join(f'{table.name}:{n}' for n in names)}"] if names else []
        lines += [f"Repair: Added partition to metastore {table.name}:{n}" for n in names]
        return ResultSet.text("result", lines)

    # -- views ---------------------------------------------------------------------------------------------
    def create_view(self, match, context, cursor, query_id, output):
        replace = bool(match.group(1))
        database, name = self._names(match, 2, context)
        body = match.group(3)
        probe = self.engine.run(dialect.parse(f"SELECT * FROM ({body}) AS __view LIMIT 0"), context, cursor)
        columns = [(f.name, arrow_to_athena(f.type)) for f in probe.table.schema]
        table_input = {
            "Name": name,
            "TableType": "VIRTUAL_VIEW",
            "Parameters": {"presto_view": "true", "comment": "Presto View"},
            "ViewOriginalText": view_original_text(body, database, columns),
            "ViewExpandedText": "/* Presto View */",
            "StorageDescriptor": {
                "Columns": [{"Name": f.name, "Type": arrow_to_hive(f.type)} for f in probe.table.schema],
                "SerdeInfo": {},
                "Location": "",
            },
        }
        existing = self.catalog.get_table(database, name, with_partitions=False)
        if existing is not None and not replace:
            raise QueryFailed(f"ALREADY_EXISTS: line 1:1: View 'awsdatacatalog.{database}.{name}' already exists")
        if existing is not None:
            self.catalog.update_table(database, table_input)
        else:
            self.catalog.create_table(database, table_input)
        return ResultSet.text("result", [])

    def drop(self, match, context, cursor, query_id, output):
        kind, if_exists = match.group(1).upper(), bool(match.group(2))
        database, name = self._names(match, 3, context)
        table = self.catalog.get_table(database, name, with_partitions=False)
        if table is None or table.is_view != (kind == "VIEW"):
            if if_exists:
                return ResultSet.text("result", [])
            noun = "View" if kind == "VIEW" else "Table"
            raise QueryFailed(f"{kind}_NOT_FOUND: line 1:1: {noun} 'awsdatacatalog.{database}.{name}' does not exist")
        self.catalog.delete_table(database, name)  # Athena drops the catalog entry only; the data stays in S3
        return ResultSet.text("result", [])

    def create_database(self, match, context, cursor, query_id, output):
        name = match.group(2).lower()
        if self.catalog.get_database(name) is not None:
            if match.group(1):
                return ResultSet.text("result", [])
            raise QueryFailed(f"ALREADY_EXISTS: Database {name} already exists")
        self.catalog.create_database(name)
        return ResultSet.text("result", [])

    def drop_database(self, match, context, cursor, query_id, output):
        name = match.group(2).lower()
        if self.catalog.get_database(name) is None:
            if match.group(1):
                return ResultSet.text("result", [])
            raise QueryFailed(f"SCHEMA_NOT_FOUND: Database {name} does not exist")
        if self.catalog.get_tables(name) and not match.group(3):
            raise QueryFailed(f"SCHEMA_NOT_EMPTY: Database {name} is not empty. One or more tables exist.")
        self.catalog.delete_database(name)
        return ResultSet.text("result", [])

    # -- EXPLAIN -------------------------------------------------------------------------------------------
    def explain(self, match, context, cursor, query_id, output):
        plan = self.engine.run(dialect.parse(match.group(1)), context, cursor, explain=True).table
        return ResultSet.text("Query Plan", plan.column(0).to_pylist())
