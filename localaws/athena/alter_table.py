"""ALTER TABLE on partitions and storage: ADD / DROP / RENAME PARTITION, PARTITION (...) SET LOCATION, SET LOCATION
and SET SERDEPROPERTIES, written to Glue as Athena writes them.

- https://docs.aws.amazon.com/athena/latest/ug/alter-table-add-partition.html: one or more `PARTITION (k = v, ...)
  [LOCATION 's3://...']`; without LOCATION the partition's folder is `<table location>/k=v/...` (Hive style); a value
  is quoted only for a string column; IF NOT EXISTS suppresses the error for a partition already there.
- https://docs.aws.amazon.com/athena/latest/ug/alter-table-drop-partition.html: `DROP [IF EXISTS] PARTITION (...),
  PARTITION (...)`; the data stays in S3.
- https://docs.aws.amazon.com/athena/latest/ug/alter-table-rename-partition.html: the partition keeps its folder.
- https://docs.aws.amazon.com/athena/latest/ug/alter-table-set-location.html: `[PARTITION (...)] SET LOCATION`.
- https://docs.aws.amazon.com/athena/latest/ug/alter-table-set-serdeproperties.html: merged into the SerDe's.
A partition spec must name every partition column, and only those (Hive's "Partition spec ... contains
non-partition columns").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from localaws.athena import names
from localaws.athena.catalog import Catalog, Table
from localaws.athena.create_table import pairs
from localaws.athena.engine import Context, Engine
from localaws.athena.errors import QueryFailed
from localaws.athena.results import ResultSet
from localaws.athena.table_writes import table_input, writable

_NAME = names.QUALIFIED
_SPEC = r"PARTITION\s*\(([^)]*)\)"
_VALUE = r"\s*([`\"]?)(\w+)\1\s*=\s*('(?:[^']|'')*'|[^,]+?)\s*(?:,|$)"


def _spec(text: str, table: Table) -> tuple[str, ...]:
    """`k = 'v', n = 3` -> the values in the table's partition-key order, as Glue holds them (text)."""
    given = {}
    for _, key, value in re.findall(_VALUE, text.strip()):
        given[key.lower()] = value[1:-1].replace("''", "'") if value.startswith("'") else value.strip()
    keys = [k["Name"].lower() for k in table.partition_keys]
    if not keys:
        raise QueryFailed(f"NOT_SUPPORTED: Table {table.database}.{table.name} is not partitioned")
    if set(given) != set(keys):
        spec = ", ".join(f"{k}={v}" for k, v in given.items())
        raise QueryFailed(f"INVALID_PARTITION_SPEC: Partition spec {{{spec}}} does not match the partition columns")
    return tuple(given[k] for k in keys)


def _folder(table: Table, values: tuple[str, ...]) -> str:
    keys = [k["Name"].lower() for k in table.partition_keys]
    return table.location.rstrip("/") + "/" + "".join(f"{k}={v}/" for k, v in zip(keys, values, strict=True))


def _label(table: Table, values: tuple[str, ...]) -> str:
    keys = [k["Name"].lower() for k in table.partition_keys]
    return "/".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))


@dataclass
class AlterTable:
    engine: Engine

    @property
    def catalog(self) -> Catalog:
        return self.engine.catalog

    def handlers(self):
        return (
            (rf"ALTER\s+TABLE\s+{_NAME}\s+ADD\s+(IF\s+NOT\s+EXISTS\s+)?({_SPEC}.*)$", self.add),
            (rf"ALTER\s+TABLE\s+{_NAME}\s+DROP\s+(IF\s+EXISTS\s+)?({_SPEC}.*)$", self.drop),
            (rf"ALTER\s+TABLE\s+{_NAME}\s+{_SPEC}\s+SET\s+LOCATION\s+'([^']+)'$", self.set_location),
            (rf"ALTER\s+TABLE\s+{_NAME}\s+{_SPEC}\s+RENAME\s+TO\s+{_SPEC}$", self.rename),
            (rf"ALTER\s+TABLE\s+{_NAME}\s+SET\s+LOCATION\s+'([^']+)'$", self.set_table_location),
            (rf"ALTER\s+TABLE\s+{_NAME}\s+SET\s+SERDEPROPERTIES\s*(\(.*\))$", self.set_serde_properties),
        )

    def _table(self, match: re.Match, context: Context) -> Table:
        database, name = names.split(match.group(1), context.database)
        table = self.catalog.get_table(database, name)
        if table is None:
            raise QueryFailed(f"TABLE_NOT_FOUND: line 1:1: Table 'awsdatacatalog.{database}.{name}' does not exist")
        return table

    def add(self, match, context: Context, cursor, query_id: str, output: str) -> ResultSet:
        table = self._table(match, context)
        known = {tuple(p["Values"]) for p in table.partitions}
        rest, adding = match.group(3), {}
        for found in re.finditer(rf"{_SPEC}(?:\s*LOCATION\s+'([^']+)')?\s*,?\s*", rest, re.I):
            values = _spec(found.group(1), table)
            location = found.group(2) or _folder(table, values)
            if values in known or values in adding:
                if match.group(2):
                    continue
                raise QueryFailed(f"ALREADY_EXISTS: Partition already exists: {table.name}:{_label(table, values)}")
            adding[values] = location.rstrip("/") + "/"
        descriptor = writable(table.raw.get("StorageDescriptor", {}))
        self.catalog.create_partitions(
            table.database,
            table.name,
            [
                {"Values": list(values), "StorageDescriptor": {**descriptor, "Location": location}}
                for values, location in adding.items()
            ],
        )
        return ResultSet.text("result", [])

    def drop(self, match, context: Context, cursor, query_id: str, output: str) -> ResultSet:
        table = self._table(match, context)
        known = {tuple(p["Values"]) for p in table.partitions}
        dropping = []
        for found in re.finditer(rf"{_SPEC}\s*,?\s*", match.group(3), re.I):
            values = _spec(found.group(1), table)
            if values not in known:
                if match.group(2):
                    continue
                raise QueryFailed(f"PARTITION_NOT_FOUND: Partition not found: {table.name}:{_label(table, values)}")
            dropping.append(values)
        self.catalog.delete_partitions(table.database, table.name, dropping)
        return ResultSet.text("result", [])

    def set_location(self, match, context: Context, cursor, query_id: str, output: str) -> ResultSet:
        table = self._table(match, context)
        values = _spec(match.group(2), table)
        partition = next((p for p in table.partitions if tuple(p["Values"]) == values), None)
        if partition is None:
            raise QueryFailed(f"PARTITION_NOT_FOUND: Partition not found: {table.name}:{_label(table, values)}")
        descriptor = {**writable(partition.get("StorageDescriptor", {})), "Location": match.group(3)}
        self.catalog.update_partition(
            table.database, table.name, list(values), {"Values": list(values), "StorageDescriptor": descriptor}
        )
        return ResultSet.text("result", [])

    def rename(self, match, context: Context, cursor, query_id: str, output: str) -> ResultSet:
        table = self._table(match, context)
        old, new = _spec(match.group(2), table), _spec(match.group(3), table)
        partition = next((p for p in table.partitions if tuple(p["Values"]) == old), None)
        if partition is None:
            raise QueryFailed(f"PARTITION_NOT_FOUND: Partition not found: {table.name}:{_label(table, old)}")
        if any(tuple(p["Values"]) == new for p in table.partitions):
            raise QueryFailed(f"ALREADY_EXISTS: Partition already exists: {table.name}:{_label(table, new)}")
        descriptor = writable(partition.get("StorageDescriptor", {}))
        self.catalog.update_partition(
            table.database, table.name, list(old), {"Values": list(new), "StorageDescriptor": descriptor}
        )
        return ResultSet.text("result", [])

    def set_table_location(self, match, context: Context, cursor, query_id: str, output: str) -> ResultSet:
        table = self._table(match, context)
        updated = table_input(table.raw)
        updated["StorageDescriptor"]["Location"] = match.group(2)
        self.catalog.update_table(table.database, updated)
        return ResultSet.text("result", [])

    def set_serde_properties(self, match, context: Context, cursor, query_id: str, output: str) -> ResultSet:
        table = self._table(match, context)
        updated = table_input(table.raw)
        serde = updated["StorageDescriptor"].setdefault("SerdeInfo", {})
        serde["Parameters"] = {**serde.get("Parameters", {}), **pairs(match.group(2))}
        self.catalog.update_table(table.database, updated)
        return ResultSet.text("result", [])
