"""Write the crawler's tables and partitions into the Glue Data Catalog through the Glue API.

The shapes are those a Glue crawler writes for Parquet data (EXTERNAL_TABLE, ParquetHiveSerDe, the Mapred Parquet
formats and the crawler's table parameters). The update rules follow
https://docs.aws.amazon.com/glue/latest/dg/crawler-configuration.html:
- SchemaChangePolicy.UpdateBehavior UPDATE_IN_DATABASE replaces the table schema with the crawled one (existing columns
  keep their position); LOG leaves existing tables alone and only logs the change; new partitions are added either way.
- CrawlerOutput.Tables.AddOrUpdateBehavior=MergeNewColumns adds new columns only: nothing is removed or retyped.
- CrawlerOutput.Partitions.AddOrUpdateBehavior=InheritFromTable gives every partition the table's columns, and updates
  existing partitions when the table schema changes.
- SchemaChangePolicy.DeleteBehavior applies to tables and partitions whose data has gone: LOG, DELETE_FROM_DATABASE, or
  DEPRECATE_IN_DATABASE (the parameter DEPRECATED_BY_CRAWLER, epoch milliseconds, as Glue marks them).
- RecrawlPolicy CRAWL_NEW_FOLDERS_ONLY only adds new partitions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from localaws.glue_crawler.layout import Columns, CrawledFile, CrawlerSettings, PartitionPlan, TablePlan, merge_columns

log = logging.getLogger("localaws.glue_crawler")

INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
BATCH = 100  # BatchCreatePartition / BatchUpdatePartition / BatchDeletePartition accept at most 100 entries
_STAT_KEYS = ("averageRecordSize", "objectCount", "recordCount", "sizeKey")


@dataclass
class CatalogOutcome:
    tables_created: int = 0
    tables_updated: int = 0
    tables_deleted: int = 0
    partitions_added: int = 0
    partitions_updated: int = 0
    partitions_deleted: int = 0


@dataclass(frozen=True)
class CrawlIdentity:
    crawler_name: str
    crawl_id: str


def crawler_parameters(files: list[CrawledFile], crawl: CrawlIdentity) -> dict[str, str]:
    """The parameters Glue's crawler sets on a Parquet table, its storage descriptor and its partitions."""
    size = sum(crawled.size for crawled in files)
    records = sum(crawled.num_rows for crawled in files)
    return {
        "CRAWL_RUN_ID": crawl.crawl_id,
        "CrawlerSchemaDeserializerVersion": "1.0",
        "CrawlerSchemaSerializerVersion": "1.0",
        "UPDATED_BY_CRAWLER": crawl.crawler_name,
        "averageRecordSize": str(size // records if records else 0),
        "classification": "parquet",
        "compressionType": "none",
        "objectCount": str(len(files)),
        "recordCount": str(records),
        "sizeKey": str(size),
        "typeOfData": "file",
    }


def storage_descriptor(location: str, columns: Columns, parameters: dict[str, str]) -> dict:
    return {
        "Columns": [{"Name": name, "Type": hive_type} for name, hive_type in columns],
        "Location": location,
        "InputFormat": INPUT_FORMAT,
        "OutputFormat": OUTPUT_FORMAT,
        "Compressed": False,
        "NumberOfBuckets": -1,
        "SerdeInfo": {"SerializationLibrary": SERDE, "Parameters": {"serialization.format": "1"}},
        "BucketColumns": [],
        "SortColumns": [],
        "Parameters": dict(parameters),
        "StoredAsSubDirectories": False,
    }


def next_columns(existing: Columns, crawled: Columns, settings: CrawlerSettings) -> tuple[Columns, list[str]]:
    """The table's columns after this crawl, and a readable line per schema change seen."""
    before, after = dict(existing), dict(crawled)
    changes = [f"new column {name} {after[name]}" for name in after if name not in before]
    changes += [
        f"column {name} type {before[name]} -> {after[name]}"
        for name in before
        if after.get(name, before[name]) != before[name]
    ]
    if settings.update_behavior == "LOG":
        return existing, changes
    appended = [(name, kind) for name, kind in crawled if name not in before]
    if settings.merge_new_columns:
        return existing + appended, changes
    changes += [f"column {name} no longer in the data" for name in before if name not in after]
    kept = [(name, after[name]) for name, _ in existing if name in after]
    return kept + appended, changes


class CatalogWriter:
    """Applies one include path's table plans to one database."""

    def __init__(
        self, glue, database: str, settings: CrawlerSettings, crawl: CrawlIdentity, note: Callable[[str], None]
    ):
        self.glue, self.database, self.settings, self.crawl, self.note = glue, database, settings, crawl, note
        self.outcome = CatalogOutcome()

    # -- tables -------------------------------------------------------------------------------------------------
    def write_table(self, plan: TablePlan) -> None:
        existing = get_table(self.glue, self.database, plan.name)
        if existing is None:
            self.glue.create_table(
                DatabaseName=self.database, TableInput=self._table_input(plan, plan.columns, plan.partition_keys, {})
            )
            self.outcome.tables_created += 1
            self.note(f"INFO : Created table {plan.name} in database {self.database}")
            self._add_partitions(plan, plan.columns, {})
            return
        existing_columns = [(c["Name"], c["Type"]) for c in existing.get("StorageDescriptor", {}).get("Columns", [])]
        keys = [key["Name"] for key in existing.get("PartitionKeys", [])]
        if keys != plan.partition_keys:
            self.note(
                f"WARN : Table {plan.name} keeps its partition keys {keys}; the data suggests {plan.partition_keys}"
            )
        columns, changes = existing_columns, []
        if self.settings.recrawl_behavior != "CRAWL_NEW_FOLDERS_ONLY":
            columns, changes = next_columns(existing_columns, plan.columns, self.settings)
        for change in changes:
            verb = "ignored (UpdateBehavior LOG)" if self.settings.update_behavior == "LOG" else "applied"
            self.note(f"INFO : Table {plan.name}: schema change {verb}: {change}")
        if self.settings.update_behavior != "LOG" and self.settings.recrawl_behavior != "CRAWL_NEW_FOLDERS_ONLY":
            table_input = self._table_input(plan, columns, keys, existing.get("Parameters", {}))
            if _differs(existing, table_input):
                self.glue.update_table(DatabaseName=self.database, TableInput=table_input)
                self.outcome.tables_updated += 1
                self.note(f"INFO : Updated table {plan.name} in database {self.database}")
        self._add_partitions(plan, columns, self._partitions(plan.name) if keys else {})

    def _table_input(self, plan: TablePlan, columns: Columns, keys: list[str], old_parameters: dict) -> dict:
        parameters = crawler_parameters(plan.files, self.crawl)
        kept = {k: v for k, v in old_parameters.items() if k not in parameters and k != "DEPRECATED_BY_CRAWLER"}
        return {
            "Name": plan.name,
            "Owner": "owner",
            "Retention": 0,
            "TableType": "EXTERNAL_TABLE",
            "PartitionKeys": [{"Name": key, "Type": "string"} for key in keys],
            "StorageDescriptor": storage_descriptor(plan.location, columns, parameters),
            "Parameters": {**kept, **parameters},
        }

    def retire_tables(self, include_urls: list[str], planned: set[str]) -> None:
        """Tables this crawler made under its include paths whose data has gone: DeleteBehavior decides."""
        for table in _paginate(self.glue, "get_tables", "TableList", DatabaseName=self.database):
            location = table.get("StorageDescriptor", {}).get("Location", "")
            ours = table.get("Parameters", {}).get("UPDATED_BY_CRAWLER") == self.crawl.crawler_name
            if table["Name"] in planned or not ours or not location.startswith(tuple(include_urls)):
                continue
            if "DEPRECATED_BY_CRAWLER" in table.get("Parameters", {}):
                continue
            self._retire_table(table)

    def _retire_table(self, table: dict) -> None:
        name, behavior = table["Name"], self.settings.delete_behavior
        if behavior == "DELETE_FROM_DATABASE":
            self.glue.delete_table(DatabaseName=self.database, Name=name)
            self.note(f"INFO : Deleted table {name}: its data is gone")
        elif behavior == "DEPRECATE_IN_DATABASE":
            table_input = _as_input(table)
            table_input["Parameters"] = {**table.get("Parameters", {}), "DEPRECATED_BY_CRAWLER": _epoch_ms()}
            self.glue.update_table(DatabaseName=self.database, TableInput=table_input)
            self.note(f"INFO : Deprecated table {name}: its data is gone")
        else:
            self.note(f"INFO : Table {name} has no data any more; kept (DeleteBehavior LOG)")
            return
        self.outcome.tables_deleted += 1

    # -- partitions ---------------------------------------------------------------------------------------------
    def _partitions(self, table: str) -> dict[tuple[str, ...], dict]:
        found = _paginate(self.glue, "get_partitions", "Partitions", DatabaseName=self.database, TableName=table)
        return {tuple(partition["Values"]): partition for partition in found}

    def _partition_input(self, plan: PartitionPlan, table_columns: Columns) -> dict:
        columns = table_columns if self.settings.partitions_inherit_from_table else merge_columns(plan.files)
        parameters = crawler_parameters(plan.files, self.crawl)
        return {
            "Values": list(plan.values),
            "StorageDescriptor": storage_descriptor(plan.location, columns, parameters),
            "Parameters": parameters,
        }

    def _add_partitions(self, plan: TablePlan, table_columns: Columns, existing: dict[tuple[str, ...], dict]) -> None:
        new = [self._partition_input(p, table_columns) for p in plan.partitions if p.values not in existing]
        for start in range(0, len(new), BATCH):
            response = self.glue.batch_create_partition(
                DatabaseName=self.database, TableName=plan.name, PartitionInputList=new[start : start + BATCH]
            )
            for error in response.get("Errors", []):
                self.note(f"WARN : Partition {error['PartitionValues']} of {plan.name}: {error['ErrorDetail']}")
            self.outcome.partitions_added += len(new[start : start + BATCH]) - len(response.get("Errors", []))
        if new:
            self.note(f"INFO : Added {len(new)} partitions to table {plan.name}")
        if self.settings.recrawl_behavior == "CRAWL_NEW_FOLDERS_ONLY":
            return
        if self.settings.update_behavior != "LOG":
            self._update_partitions(plan, table_columns, existing)
        self._retire_partitions(plan, existing)

    def _update_partitions(self, plan: TablePlan, table_columns: Columns, existing: dict) -> None:
        changed = []
        for partition in plan.partitions:
            old = existing.get(partition.values)
            if old is None:
                continue
            wanted = self._partition_input(partition, table_columns)
            old_sd = old.get("StorageDescriptor", {})
            same_columns = old_sd.get("Columns") == wanted["StorageDescriptor"]["Columns"]
            same_stats = all(old_sd.get("Parameters", {}).get(k) == wanted["Parameters"][k] for k in _STAT_KEYS)
            if not (same_columns and same_stats):
                changed.append({"PartitionValueList": list(partition.values), "PartitionInput": wanted})
        for start in range(0, len(changed), BATCH):
            self.glue.batch_update_partition(
                DatabaseName=self.database, TableName=plan.name, Entries=changed[start : start + BATCH]
            )
        self.outcome.partitions_updated += len(changed)

    def _retire_partitions(self, plan: TablePlan, existing: dict) -> None:
        planned = {partition.values for partition in plan.partitions}
        gone = [values for values in existing if values not in planned]
        if not gone:
            return
        behavior = self.settings.delete_behavior
        if behavior == "DELETE_FROM_DATABASE":
            for start in range(0, len(gone), BATCH):
                self.glue.batch_delete_partition(
                    DatabaseName=self.database,
                    TableName=plan.name,
                    PartitionsToDelete=[{"Values": list(values)} for values in gone[start : start + BATCH]],
                )
            self.outcome.partitions_deleted += len(gone)
            self.note(f"INFO : Deleted {len(gone)} partitions of {plan.name} whose data is gone")
        else:
            self.note(
                f"INFO : {len(gone)} partitions of {plan.name} have no data any more; kept (DeleteBehavior {behavior})"
            )


def get_table(glue, database: str, name: str) -> dict | None:
    try:
        return glue.get_table(DatabaseName=database, Name=name)["Table"]
    except glue.exceptions.EntityNotFoundException:
        return None


def _paginate(glue, operation: str, key: str, **kwargs) -> list[dict]:
    return [item for page in glue.get_paginator(operation).paginate(**kwargs) for item in page[key]]


_TABLE_INPUT_KEYS = (
    "Name", "Description", "Owner", "Retention", "StorageDescriptor", "PartitionKeys", "TableType", "Parameters",
    "ViewOriginalText", "ViewExpandedText", "TargetTable",
)  # fmt: skip


def _as_input(table: dict) -> dict:
    return {key: table[key] for key in _TABLE_INPUT_KEYS if key in table}


def _differs(existing: dict, table_input: dict) -> bool:
    old_sd, new_sd = existing.get("StorageDescriptor", {}), table_input["StorageDescriptor"]
    if old_sd.get("Columns") != new_sd["Columns"] or old_sd.get("Location") != new_sd["Location"]:
        return True
    old_parameters = existing.get("Parameters", {})
    return (
        any(old_parameters.get(k) != table_input["Parameters"][k] for k in _STAT_KEYS)
        or "DEPRECATED_BY_CRAWLER" in old_parameters
    )


def _epoch_ms() -> str:
    return str(int(time.time() * 1000))
