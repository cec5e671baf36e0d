"""The Glue Data Catalog as Athena sees it: databases, tables, views and partitions, read through the Glue API.

localaws serves Glue from moto; Athena reads it over the same endpoint as any client would, so a crawler's or a
user's `create_table` is visible at once, and catalog writes (MSCK, CTAS, CREATE VIEW) go through Glue's validation.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass, field
from functools import cached_property

import boto3
import pyarrow as pa
from botocore.config import Config
from botocore.exceptions import ClientError

from localaws.athena.athena_types import hive_to_arrow

log = logging.getLogger("localaws.athena")

DATA_CATALOG = "AwsDataCatalog"
PRESTO_VIEW_PREFIX = "/* Presto View: "
PRESTO_VIEW_SUFFIX = " */"


@dataclass
class Table:
    """A Glue table (or view) with its columns and, for partitioned tables, its registered partitions."""

    database: str
    name: str
    raw: dict
    partitions: list[dict] = field(default_factory=list)

    @property
    def is_view(self) -> bool:
        return self.raw.get("TableType") == "VIRTUAL_VIEW"

    @property
    def columns(self) -> list[dict]:
        return self.raw.get("StorageDescriptor", {}).get("Columns", [])

    @property
    def partition_keys(self) -> list[dict]:
        return self.raw.get("PartitionKeys", [])

    @property
    def location(self) -> str:
        return self.raw.get("StorageDescriptor", {}).get("Location", "")

    @cached_property
    def schema(self) -> pa.Schema:
        """Data columns then partition columns, with the catalog's types (a partition `dt string` stays a string)."""
        return pa.schema(
            [pa.field(c["Name"].lower(), hive_to_arrow(c["Type"])) for c in self.columns + self.partition_keys]
        )

    @property
    def view_sql(self) -> str:
        """The Trino SQL of a view that Athena stored as ViewOriginalText '/* Presto View: <base64 json> */'."""
        text = self.raw.get("ViewOriginalText", "")
        encoded = text.removeprefix(PRESTO_VIEW_PREFIX).removesuffix(PRESTO_VIEW_SUFFIX)
        return json.loads(base64.b64decode(encoded))["originalSql"]


class Catalog:
    """Glue, S3 and Athena workgroups through the localaws endpoint itself (one client each, thread-safe)."""

    def __init__(self, endpoint: str, region: str) -> None:
        self.endpoint = endpoint
        self.region = region
        session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=region)
        config = Config(retries={"max_attempts": 2}, max_pool_connections=32)
        self.glue = session.client("glue", endpoint_url=endpoint, config=config)
        self.s3 = session.client("s3", endpoint_url=endpoint, config=config)
        self.athena = session.client("athena", endpoint_url=endpoint, config=config)

    # -- reads ---------------------------------------------------------------------------------------------
    def get_database(self, name: str) -> dict | None:
        try:
            return self.glue.get_database(Name=name)["Database"]
        except self.glue.exceptions.EntityNotFoundException:
            return None

    def get_databases(self) -> list[dict]:
        pages = self.glue.get_paginator("get_databases").paginate()
        return [db for page in pages for db in page["DatabaseList"]]

    def get_tables(self, database: str) -> list[dict]:
        pages = self.glue.get_paginator("get_tables").paginate(DatabaseName=database)
        return [table for page in pages for table in page["TableList"]]

    def get_table(self, database: str, name: str, with_partitions: bool = True) -> Table | None:
        try:
            raw = self.glue.get_table(DatabaseName=database, Name=name)["Table"]
        except self.glue.exceptions.EntityNotFoundException:
            return None
        table = Table(database.lower(), name.lower(), raw)
        if with_partitions and table.partition_keys:
            table.partitions = self.get_partitions(database, name)
        return table

    def get_partitions(self, database: str, name: str) -> list[dict]:
        pages = self.glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=name)
        return [partition for page in pages for partition in page["Partitions"]]

    def get_work_group(self, name: str) -> dict | None:
        try:
            return self.athena.get_work_group(WorkGroup=name)["WorkGroup"]
        except ClientError as error:
            if error.response["Error"]["Code"] in ("InvalidRequestException", "ResourceNotFoundException"):
                return None
            raise

    # -- writes (serialised by moto's lock on the server side) ---------------------------------------------
    def create_table(self, database: str, table_input: dict) -> None:
        self.glue.create_table(DatabaseName=database, TableInput=table_input)

    def update_table(self, database: str, table_input: dict) -> None:
        self.glue.update_table(DatabaseName=database, TableInput=table_input)

    def delete_table(self, database: str, name: str) -> None:
        self.glue.delete_table(DatabaseName=database, Name=name)

    def create_database(self, name: str) -> None:
        self.glue.create_database(DatabaseInput={"Name": name})

    def delete_database(self, name: str) -> None:
        self.glue.delete_database(Name=name)

    def create_partitions(self, database: str, name: str, partition_inputs: list[dict]) -> None:
        for start in range(0, len(partition_inputs), 100):  # BatchCreatePartition takes at most 100
            self.glue.batch_create_partition(
                DatabaseName=database, TableName=name, PartitionInputList=partition_inputs[start : start + 100]
            )

    def delete_partitions(self, database: str, name: str, values: list[tuple[str, ...]]) -> None:
        for start in range(0, len(values), 25):  # BatchDeletePartition takes at most 25
            self.glue.batch_delete_partition(
                DatabaseName=database,
                TableName=name,
                PartitionsToDelete=[{"Values": list(v)} for v in values[start : start + 25]],
            )

    def update_partition(self, database: str, name: str, values: list[str], partition_input: dict) -> None:
        self.glue.update_partition(
            DatabaseName=database, TableName=name, PartitionValueList=values, PartitionInput=partition_input
        )


def split_s3_url(url: str) -> tuple[str, str]:
    """s3://bucket/key/prefix -> (bucket, key/prefix)."""
    bucket, _, key = url.removeprefix("s3://").removeprefix("s3a://").partition("/")
    return bucket, key


def view_original_text(sql: str, database: str, columns: list[tuple[str, str]]) -> str:
    """ViewOriginalText as Athena stores it: a base64 JSON document in a comment."""
    document = {
        "originalSql": sql,
        "catalog": "awsdatacatalog",
        "schema": database,
        "columns": [{"name": name, "type": type_name} for name, type_name in columns],
    }
    return PRESTO_VIEW_PREFIX + base64.b64encode(json.dumps(document).encode()).decode() + PRESTO_VIEW_SUFFIX
