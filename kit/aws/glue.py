"""Glue: the stack's catalog database, its crawler over processed/, and removing the tables the crawler made."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from kit.aws import error_message, has_code, is_subset
from kit.narrate import CREATED, UNCHANGED, updated
from kit.waiting import retry_while, wait_until

ROLE_NOT_READY = "unable to assume provided role"  # InvalidInputException while a new role propagates (P4)

# One table per dataset folder with dt= partitions (P8). Glue counts table levels from the bucket
# (https://docs.aws.amazon.com/glue/latest/dg/crawler-table-level.html): bucket = 1, processed/ = 2, dataset = 3.
TABLE_LEVEL = 3
# CreatePartitionIndex off: crawlers create partition indexes by default, which needs glue:CreatePartitionIndex
# (https://docs.aws.amazon.com/glue/latest/dg/crawler-configure-partition-indexes.html). Athena uses an index only on
# tables with partition_filtering.enabled, which crawler-made tables lack ("Tables created by the crawler do not have
# the variable partition_filtering.enabled by default", same page), and a table has one dt partition a day, so the
# kit switches it off rather than grant the action.
CRAWLER_CONFIGURATION = {
    "Version": 1.0,
    "CreatePartitionIndex": False,
    "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas", "TableLevelConfiguration": TABLE_LEVEL},
    "CrawlerOutput": {
        "Partitions": {"AddOrUpdateBehavior": "InheritFromTable"},  # partitions keep the table's schema (P9)
        "Tables": {"AddOrUpdateBehavior": "MergeNewColumns"},
    },
}
# Only Parquet is data: skip Spark/Hadoop markers (_SUCCESS, _temporary/), hidden files, checksums, EMR folder markers
# and any JSON that lands under processed/ (https://docs.aws.amazon.com/glue/latest/dg/define-crawler.html#crawler-data-stores-exclude).
EXCLUSIONS = ["**/_*", "**/.*", "**.json", "**.crc", "**_$folder$", "**.tmp"]
# New columns are added and types updated in the catalog; objects deleted from S3 are only logged, never dropped.
SCHEMA_CHANGE_POLICY = {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"}
# Every run re-reads the whole target: small datasets, and a crawl must see files that landed mid-crawl (P7).
RECRAWL_POLICY = {"RecrawlBehavior": "CRAWL_EVERYTHING"}


@dataclass(frozen=True)
class CrawlerSpec:
    name: str
    role_arn: str
    database: str
    target: str
    description: str
    tags: dict[str, str] = field(default_factory=dict)

    def settings(self) -> dict:
        return {
            "Role": self.role_arn,
            "DatabaseName": self.database,
            "Description": self.description,
            "Targets": {"S3Targets": [{"Path": self.target, "Exclusions": EXCLUSIONS}]},
            "SchemaChangePolicy": SCHEMA_CHANGE_POLICY,
            "RecrawlPolicy": RECRAWL_POLICY,
            "Configuration": json.dumps(CRAWLER_CONFIGURATION, sort_keys=True),
        }


def get_database(glue, name: str) -> dict | None:
    try:
        return glue.get_database(Name=name)["Database"]
    except ClientError as error:
        if has_code(error, "EntityNotFoundException"):
            return None
        raise


def _ensure_tags(glue, arn: str, tags: dict[str, str]) -> bool:
    if is_subset(tags, glue.get_tags(ResourceArn=arn).get("Tags", {})):
        return False
    glue.tag_resource(ResourceArn=arn, TagsToAdd=tags)
    return True


def ensure_database(glue, name: str, *, arn: str, description: str, tags: dict[str, str]) -> tuple[dict, str]:
    database = get_database(glue, name)
    if database is None:
        glue.create_database(DatabaseInput={"Name": name, "Description": description}, Tags=tags)
        return get_database(glue, name), CREATED
    return database, updated("tags") if _ensure_tags(glue, arn, tags) else UNCHANGED


def get_crawler(glue, name: str) -> dict | None:
    try:
        return glue.get_crawler(Name=name)["Crawler"]
    except ClientError as error:
        if has_code(error, "EntityNotFoundException"):
            return None
        raise


def _crawler_differences(spec: CrawlerSpec, current: dict) -> list[str]:
    wanted = spec.settings()
    differences = []
    for key, value in wanted.items():
        if key == "Configuration":
            same = json.loads(current.get(key) or "{}") == CRAWLER_CONFIGURATION
        elif key == "Role":  # Glue may answer with the role's name instead of its ARN
            same = current.get(key) in (value, value.rsplit("/", 1)[-1])
        else:
            same = is_subset(value, current.get(key))
        if not same:
            differences.append(key)
    return differences


def _role_propagating(error: ClientError) -> bool:
    return has_code(error, "InvalidInputException") and ROLE_NOT_READY in error_message(error).lower()


def ensure_crawler(glue, spec: CrawlerSpec, *, arn: str) -> tuple[dict, str]:
    current = get_crawler(glue, spec.name)
    if current is None:
        retry_while(
            lambda: glue.create_crawler(Name=spec.name, Tags=spec.tags, **spec.settings()),
            is_transient=_role_propagating,
            what=f"create crawler {spec.name}",
        )
        return get_crawler(glue, spec.name), CREATED
    changes = _crawler_differences(spec, current)
    if changes:
        retry_while(
            lambda: glue.update_crawler(Name=spec.name, **spec.settings()),
            is_transient=_role_propagating,
            what=f"update crawler {spec.name}",
        )
    if _ensure_tags(glue, arn, spec.tags):
        changes.append("tags")
    return current, updated(*changes) if changes else UNCHANGED


def _untag(glue, arn: str) -> None:
    # moto keeps the tags of deleted Glue resources in its tag index; untagging first keeps tag listings truthful
    # there (and so on localaws) at the cost of one call on AWS, where deletion drops the tags anyway.
    tags = glue.get_tags(ResourceArn=arn).get("Tags", {})
    if tags:
        glue.untag_resource(ResourceArn=arn, TagsToRemove=list(tags))


def delete_crawler_if_exists(glue, name: str, *, arn: str, timeout: float = 600) -> bool:
    crawler = get_crawler(glue, name)
    if crawler is None:
        return False
    if crawler["State"] != "READY":  # Glue refuses to delete a running crawler
        if crawler["State"] == "RUNNING":
            glue.stop_crawler(Name=name)
        wait_until(
            lambda: get_crawler(glue, name)["State"],
            what=f"crawler {name} stopping",
            success={"READY"},
            timeout=timeout,
        )
    _untag(glue, arn)
    glue.delete_crawler(Name=name)
    return True


def delete_tables_and_partitions(glue, database: str) -> tuple[int, int]:
    """Delete every partition, then every table, of the database (the crawler's tables outlive it, P15)."""
    if get_database(glue, database) is None:
        return 0, 0
    tables = [
        table["Name"]
        for page in glue.get_paginator("get_tables").paginate(DatabaseName=database)
        for table in page["TableList"]
    ]
    partitions = 0
    for table in tables:
        values = [
            {"Values": partition["Values"]}
            for page in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table)
            for partition in page["Partitions"]
        ]
        for start in range(0, len(values), 25):  # BatchDeletePartition takes at most 25
            glue.batch_delete_partition(
                DatabaseName=database, TableName=table, PartitionsToDelete=values[start : start + 25]
            )
        partitions += len(values)
    for start in range(0, len(tables), 100):  # BatchDeleteTable takes at most 100
        glue.batch_delete_table(DatabaseName=database, TablesToDelete=tables[start : start + 100])
    return len(tables), partitions


def delete_database_if_exists(glue, name: str, *, arn: str) -> bool:
    if get_database(glue, name) is None:
        return False
    _untag(glue, arn)
    glue.delete_database(Name=name)
    return True


def get_tags(glue, arn: str) -> dict[str, str]:
    return glue.get_tags(ResourceArn=arn).get("Tags", {})
