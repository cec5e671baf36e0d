"""The local Glue crawler against a real localaws server process: layout, types, states, re-crawls, metrics, reads.

Every test waits on state (GET /_localaws/idle) rather than on time, and cites the AWS behaviour it checks.
"""

from __future__ import annotations

import io
import json
import urllib.request
import uuid

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from roles import allow_everything

pytestmark = pytest.mark.localaws

PARQUET_CONFIGURATION = {
    "Version": 1.0,
    "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas", "TableLevelConfiguration": 3},
    "CrawlerOutput": {
        "Partitions": {"AddOrUpdateBehavior": "InheritFromTable"},
        "Tables": {"AddOrUpdateBehavior": "MergeNewColumns"},
    },
}


class Lake:
    """A unique bucket, database and crawler for one test."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        suffix = uuid.uuid4().hex[:10]
        self.bucket, self.database, self.crawler = f"lake-{suffix}", f"db_{suffix}", f"crawler-{suffix}"
        self.s3, self.glue, self.logs = boto3.client("s3"), boto3.client("glue"), boto3.client("logs")
        self.s3.create_bucket(Bucket=self.bucket)
        self.role_arn = create_role(f"crawler-{suffix}", "glue.amazonaws.com")
        self.glue.create_database(DatabaseInput={"Name": self.database})

    def put_parquet(self, key: str, table: pa.Table) -> None:
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=buffer.getvalue())

    def create_crawler(
        self, configuration: dict | None = PARQUET_CONFIGURATION, path: str = "processed/", **extra
    ) -> None:
        target = {"Path": f"s3://{self.bucket}/{path}", **extra.pop("target", {})}
        if configuration is not None:
            extra["Configuration"] = json.dumps(configuration)
        self.glue.create_crawler(
            Name=self.crawler,
            Role=extra.pop("Role", self.role_arn),
            DatabaseName=self.database,
            Targets={"S3Targets": [target]},
            **extra,
        )

    def crawl(self) -> dict:
        """Start the crawler, wait until localaws is idle, and return the crawler (GetCrawler)."""
        self.glue.start_crawler(Name=self.crawler)
        self.wait_idle()
        return self.glue.get_crawler(Name=self.crawler)["Crawler"]

    def wait_idle(self) -> None:
        with urllib.request.urlopen(f"{self.endpoint}/_localaws/idle?timeout=30") as response:
            assert response.status == 200

    def runs(self) -> list[dict]:
        with urllib.request.urlopen(f"{self.endpoint}/_localaws/glue-crawler?name={self.crawler}") as response:
            return json.load(response)["Runs"]

    def tables(self) -> dict[str, dict]:
        return {t["Name"]: t for t in self.glue.get_tables(DatabaseName=self.database)["TableList"]}

    def partitions(self, table: str) -> dict[tuple[str, ...], dict]:
        found = self.glue.get_partitions(DatabaseName=self.database, TableName=table)["Partitions"]
        return {tuple(p["Values"]): p for p in found}


def create_role(name: str, service: str) -> str:
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}  # fmt: skip
    iam = boto3.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    allow_everything(iam, name)
    return arn


@pytest.fixture
def lake(localaws_env: str) -> Lake:
    return Lake(localaws_env)


def orders(ids: list[int]) -> pa.Table:
    return pa.table(
        {"order_id": pa.array(ids, pa.int64()), "amount": pa.array([1.5] * len(ids)), "city": ["x"] * len(ids)}
    )


def clicks() -> pa.Table:
    return pa.table({"url": ["/a"], "clicked_at": pa.array([1_700_000_000_000], pa.timestamp("ms"))})


def put_two_datasets(lake: Lake) -> None:
    lake.put_parquet("processed/orders/dt=2024-01-01/part-a.parquet", orders([1, 2]))
    lake.put_parquet("processed/orders/dt=2024-01-02/part-b.parquet", orders([3]))
    lake.put_parquet("processed/clicks/dt=2024-01-01/part-c.parquet", clicks())


def test_one_table_per_dataset_with_dt_partitions(lake: Lake) -> None:
    """https://docs.aws.amazon.com/glue/latest/dg/crawler-s3-folder-table-partition.html and the Parquet shape Glue
    writes (ParquetHiveSerDe, Mapred Parquet formats, classification=parquet; partition keys typed string per
    https://docs.aws.amazon.com/glue/latest/dg/crawler-grouping-policy.html)."""
    put_two_datasets(lake)
    lake.create_crawler()
    lake.crawl()
    tables = lake.tables()
    assert set(tables) == {"orders", "clicks"}
    table = tables["orders"]
    sd = table["StorageDescriptor"]
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert table["Owner"] == "owner"
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert sd["Columns"] == [
        {"Name": "order_id", "Type": "bigint"},
        {"Name": "amount", "Type": "double"},
        {"Name": "city", "Type": "string"},
    ]
    assert sd["Location"] == f"s3://{lake.bucket}/processed/orders/"
    assert sd["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert sd["OutputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    assert sd["SerdeInfo"] == {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    }
    assert (sd["Compressed"], sd["NumberOfBuckets"], sd["StoredAsSubDirectories"]) == (False, -1, False)
    parameters = table["Parameters"]
    assert parameters["classification"] == "parquet"
    assert parameters["UPDATED_BY_CRAWLER"] == lake.crawler
    assert (parameters["objectCount"], parameters["recordCount"], parameters["typeOfData"]) == ("2", "3", "file")
    assert (parameters["CrawlerSchemaSerializerVersion"], parameters["compressionType"]) == ("1.0", "none")
    partitions = lake.partitions("orders")
    assert set(partitions) == {("2024-01-01",), ("2024-01-02",)}
    first = partitions[("2024-01-01",)]["StorageDescriptor"]
    assert first["Location"] == f"s3://{lake.bucket}/processed/orders/dt=2024-01-01/"
    assert first["Columns"] == sd["Columns"]  # InheritFromTable
    assert set(lake.partitions("clicks")) == {("2024-01-01",)}


@pytest.mark.parametrize(
    ("configuration", "expected"),
    [
        # TableLevelConfiguration: the bucket is level 1 (crawler-configuration.html, "table location").
        (PARQUET_CONFIGURATION, {"orders": ["dt"], "clicks": ["dt"]}),
        ({"Version": 1.0, "Grouping": {"TableLevelConfiguration": 2}}, {"processed": ["partition_0", "dt"]}),
        # CombineCompatibleSchemas alone: one table per include path (crawler-grouping-policy.html).
        (
            {"Version": 1.0, "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"}},
            {"processed": ["partition_0", "dt"]},
        ),
        # Default: dissimilar schemas at one folder level -> a table per folder (crawler-s3-folder-table-partition.html)
        (None, {"orders": ["dt"], "clicks": ["dt"]}),
    ],
    ids=["level-3", "level-2", "combine-compatible", "default-similarity"],
)
def test_table_roots_follow_the_crawler_configuration(lake: Lake, configuration: dict | None, expected: dict) -> None:
    put_two_datasets(lake)
    lake.create_crawler(configuration)
    lake.crawl()
    assert {name: [k["Name"] for k in t["PartitionKeys"]] for name, t in lake.tables().items()} == expected


def test_exclusions_markers_and_non_parquet_objects_are_skipped(lake: Lake) -> None:
    """Exclude patterns are globs relative to the include path, '**' crossing folders
    (https://docs.aws.amazon.com/glue/latest/dg/define-crawler-choose-data-sources.html); _SUCCESS and folder markers
    are not data."""
    lake.put_parquet("processed/orders/dt=2024-01-01/part-a.parquet", orders([1]))
    lake.s3.put_object(Bucket=lake.bucket, Key="processed/orders/dt=2024-01-01/raw.json", Body=b'{"order_id": 1}')
    lake.s3.put_object(Bucket=lake.bucket, Key="processed/orders/_SUCCESS", Body=b"")
    lake.s3.put_object(Bucket=lake.bucket, Key="processed/orders/dt=2024-01-02/", Body=b"")
    lake.create_crawler(target={"Exclusions": ["**.json"]})
    assert lake.crawl()["LastCrawl"]["Status"] == "SUCCEEDED"
    (table,) = lake.tables().values()
    assert table["Parameters"]["objectCount"] == "1"
    assert set(lake.partitions("orders")) == {("2024-01-01",)}
    messages = [
        e["message"]
        for e in lake.logs.get_log_events(logGroupName="/aws-glue/crawlers", logStreamName=lake.crawler)["events"]
    ]
    assert any("raw.json: excluded by '**.json'" in m for m in messages)
    assert any("_SUCCESS: hidden or marker name" in m for m in messages)
    read = {get["key"] for get in lake.runs()[-1]["s3_gets"]}
    assert read == {"processed/orders/dt=2024-01-01/part-a.parquet"}


def test_every_arrow_type_is_typed_as_glue_does(lake: Lake) -> None:
    """Hive types per https://docs.aws.amazon.com/athena/latest/ug/data-types.html; ns timestamps are bigint (P10)."""
    table = pa.table(
        {
            "i64": pa.array([1], pa.int64()),
            "i32": pa.array([1], pa.int32()),
            "i16": pa.array([1], pa.int16()),
            "i8": pa.array([1], pa.int8()),
            "f64": pa.array([1.0], pa.float64()),
            "f32": pa.array([1.0], pa.float32()),
            "flag": pa.array([True]),
            "text": pa.array(["a"]),
            "ts_ms": pa.array([1], pa.timestamp("ms")),
            "ts_us": pa.array([1], pa.timestamp("us")),
            "ts_ns": pa.array([1], pa.timestamp("ns")),
            "day": pa.array([1], pa.date32()),
            "price": pa.array([None], pa.decimal128(12, 2)),
            "tags": pa.array([["a"]], pa.list_(pa.string())),
            "address": pa.array([{"city": "x", "zip": 1}], pa.struct([("city", pa.string()), ("zip", pa.int32())])),
            "attrs": pa.array([[("k", 1.0)]], pa.map_(pa.string(), pa.float64())),
            "blob": pa.array([b"x"], pa.binary()),
            "small": pa.array([1], pa.uint8()),
            "category": pa.array(["a"]).dictionary_encode(),
        }
    )
    lake.put_parquet("processed/types/dt=2024-01-01/part.parquet", table)
    lake.create_crawler()
    lake.crawl()
    columns = {c["Name"]: c["Type"] for c in lake.tables()["types"]["StorageDescriptor"]["Columns"]}
    assert columns == {
        "i64": "bigint", "i32": "int", "i16": "smallint", "i8": "tinyint", "f64": "double", "f32": "float",
        "flag": "boolean", "text": "string", "ts_ms": "timestamp", "ts_us": "timestamp", "ts_ns": "bigint",
        "day": "date", "price": "decimal(12,2)", "tags": "array<string>", "address": "struct<city:string,zip:int>",
        "attrs": "map<string,double>", "blob": "binary", "small": "smallint", "category": "string",
    }  # fmt: skip


def test_states_last_crawl_and_logs(lake: Lake) -> None:
    """RUNNING -> STOPPING -> READY with LastCrawl (https://docs.aws.amazon.com/glue/latest/webapi/API_LastCrawlInfo.html);
    the crawl's lines go to /aws-glue/crawlers, stream = crawler name, prefixed with MessagePrefix."""
    put_two_datasets(lake)
    lake.create_crawler()
    assert lake.glue.get_crawler(Name=lake.crawler)["Crawler"]["State"] == "READY"
    crawler = lake.crawl()
    assert crawler["State"] == "READY"
    last = crawler["LastCrawl"]
    assert (last["Status"], last["LogGroup"], last["LogStream"]) == ("SUCCEEDED", "/aws-glue/crawlers", lake.crawler)
    assert "ErrorMessage" not in last
    (run,) = lake.runs()
    assert run["states"] == ["RUNNING", "STOPPING", "READY"]
    assert run["crawl_id"] == last["MessagePrefix"]
    events = lake.logs.get_log_events(logGroupName="/aws-glue/crawlers", logStreamName=lake.crawler)["events"]
    assert events and all(e["message"].startswith(f"[{last['MessagePrefix']}] ") for e in events)
    assert any("Created table orders" in e["message"] for e in events)
    (crawl,) = lake.glue.list_crawls(CrawlerName=lake.crawler)["Crawls"]
    assert crawl["State"] == "COMPLETED"
    assert json.loads(crawl["Summary"])["TablesCreated"] == 2


def put_many_days(lake: Lake, days: int = 40) -> None:
    """Enough files that a crawl is still running when the test's next call arrives."""
    for day in range(days):
        lake.put_parquet(f"processed/orders/dt=2024-{1 + day // 28:02d}-{1 + day % 28:02d}/part.parquet", orders([day]))


def test_second_start_while_running_raises_crawler_running_exception(lake: Lake) -> None:
    """AWS refuses StartCrawler on a running crawler with CrawlerRunningException (pitfall P7)."""
    put_many_days(lake)
    lake.create_crawler()
    lake.glue.start_crawler(Name=lake.crawler)
    with pytest.raises(lake.glue.exceptions.CrawlerRunningException, match="has already started"):
        lake.glue.start_crawler(Name=lake.crawler)
    lake.wait_idle()
    crawler = lake.glue.get_crawler(Name=lake.crawler)["Crawler"]
    assert (crawler["State"], crawler["LastCrawl"]["Status"]) == ("READY", "SUCCEEDED")
    assert len(lake.partitions("orders")) == 40
    assert len(lake.runs()) == 1


def test_stop_crawler_cancels_the_crawl(lake: Lake) -> None:
    """StopCrawler on a running crawl: the crawler returns to READY with LastCrawl CANCELLED
    (https://docs.aws.amazon.com/glue/latest/webapi/API_LastCrawlInfo.html); a cancelled crawl writes no tables."""
    put_many_days(lake)
    lake.create_crawler()
    lake.glue.start_crawler(Name=lake.crawler)
    lake.glue.stop_crawler(Name=lake.crawler)
    lake.wait_idle()
    crawler = lake.glue.get_crawler(Name=lake.crawler)["Crawler"]
    assert (crawler["State"], crawler["LastCrawl"]["Status"]) == ("READY", "CANCELLED")
    assert lake.tables() == {}
    assert lake.crawl()["LastCrawl"]["Status"] == "SUCCEEDED"


def test_without_inherit_from_table_partitions_keep_their_own_columns(lake: Lake) -> None:
    """Without CrawlerOutput.Partitions InheritFromTable each partition records its own files' schema, the source of
    HIVE_PARTITION_SCHEMA_MISMATCH (pitfall P9; https://docs.aws.amazon.com/glue/latest/dg/crawler-configuration.html)."""
    lake.put_parquet("processed/orders/dt=2024-01-01/part-a.parquet", orders([1]))
    lake.put_parquet(
        "processed/orders/dt=2024-01-02/part-b.parquet", orders([2]).append_column("coupon", pa.array(["X"]))
    )
    lake.create_crawler({"Version": 1.0, "Grouping": {"TableLevelConfiguration": 3}})
    lake.crawl()
    partitions = lake.partitions("orders")
    names = {values: [c["Name"] for c in p["StorageDescriptor"]["Columns"]] for values, p in partitions.items()}
    assert names == {
        ("2024-01-01",): ["order_id", "amount", "city"],
        ("2024-01-02",): ["order_id", "amount", "city", "coupon"],
    }


def test_recrawl_adds_only_new_partitions_and_appends_new_columns(lake: Lake) -> None:
    """MergeNewColumns adds new columns only; InheritFromTable updates existing partitions' columns
    (https://docs.aws.amazon.com/glue/latest/dg/crawler-configuration.html)."""
    put_two_datasets(lake)
    lake.create_crawler()
    lake.crawl()
    before = lake.partitions("orders")
    lake.put_parquet(
        "processed/orders/dt=2024-01-03/part-c.parquet", orders([4]).append_column("coupon", pa.array(["SAVE"]))
    )
    lake.crawl()
    table = lake.tables()["orders"]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["order_id", "amount", "city", "coupon"]
    after = lake.partitions("orders")
    assert set(after) == {("2024-01-01",), ("2024-01-02",), ("2024-01-03",)}
    assert after[("2024-01-01",)]["CreationTime"] == before[("2024-01-01",)]["CreationTime"]
    assert all(p["StorageDescriptor"]["Columns"] == table["StorageDescriptor"]["Columns"] for p in after.values())
    outcome = lake.runs()[-1]["outcome"]
    assert (outcome["tables_created"], outcome["tables_updated"], outcome["partitions_added"]) == (0, 1, 1)


@pytest.mark.parametrize(("update_behavior", "amount_type"), [("UPDATE_IN_DATABASE", "string"), ("LOG", "double")])
def test_schema_change_policy_on_a_type_change(lake: Lake, update_behavior: str, amount_type: str) -> None:
    """UPDATE_IN_DATABASE retypes the column; LOG keeps the table and only logs, while new partitions are still added
    (https://docs.aws.amazon.com/glue/latest/dg/crawler-configuration.html, "schema change policy")."""
    lake.put_parquet("processed/orders/dt=2024-01-01/part-a.parquet", orders([1]))
    configuration = {"Version": 1.0, "Grouping": {"TableLevelConfiguration": 3}}
    lake.create_crawler(configuration, SchemaChangePolicy={"UpdateBehavior": update_behavior, "DeleteBehavior": "LOG"})
    lake.crawl()
    retyped = pa.table({"order_id": pa.array([2], pa.int64()), "amount": ["2.50"], "city": ["y"]})
    lake.put_parquet("processed/orders/dt=2024-01-02/part-b.parquet", retyped)
    lake.crawl()
    columns = {c["Name"]: c["Type"] for c in lake.tables()["orders"]["StorageDescriptor"]["Columns"]}
    assert columns["amount"] == amount_type
    assert set(lake.partitions("orders")) == {("2024-01-01",), ("2024-01-02",)}


@pytest.mark.parametrize(
    ("delete_behavior", "remains"), [("DELETE_FROM_DATABASE", False), ("DEPRECATE_IN_DATABASE", True)]
)
def test_delete_behavior_for_a_vanished_dataset(lake: Lake, delete_behavior: str, remains: bool) -> None:
    """SchemaChangePolicy.DeleteBehavior (https://docs.aws.amazon.com/glue/latest/dg/crawler-configuration.html)."""
    put_two_datasets(lake)
    lake.create_crawler(SchemaChangePolicy={"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": delete_behavior})
    lake.crawl()
    lake.s3.delete_object(Bucket=lake.bucket, Key="processed/clicks/dt=2024-01-01/part-c.parquet")
    lake.crawl()
    tables = lake.tables()
    assert ("clicks" in tables) is remains
    if remains:
        assert "DEPRECATED_BY_CRAWLER" in tables["clicks"]["Parameters"]
    assert lake.runs()[-1]["outcome"]["tables_deleted"] == 1


def test_get_crawler_metrics(lake: Lake) -> None:
    """https://docs.aws.amazon.com/glue/latest/webapi/API_GetCrawlerMetrics.html (moto answers HTTP 500)."""
    put_two_datasets(lake)
    lake.create_crawler()
    (fresh,) = lake.glue.get_crawler_metrics(CrawlerNameList=[lake.crawler])["CrawlerMetricsList"]
    assert (fresh["TablesCreated"], fresh["LastRuntimeSeconds"]) == (0, 0)
    lake.crawl()
    lake.crawl()
    (metrics,) = lake.glue.get_crawler_metrics(CrawlerNameList=[lake.crawler])["CrawlerMetricsList"]
    assert metrics["CrawlerName"] == lake.crawler
    assert (metrics["TablesCreated"], metrics["TablesUpdated"], metrics["TablesDeleted"]) == (0, 0, 0)
    assert metrics["LastRuntimeSeconds"] > 0 and metrics["MedianRuntimeSeconds"] > 0
    assert (metrics["StillEstimating"], metrics["TimeLeftSeconds"]) == (False, 0)
    first_run = lake.runs()[0]["outcome"]
    assert first_run["tables_created"] == 2


def test_reads_footers_only_with_ranged_gets(lake: Lake) -> None:
    """Glue's Parquet classifier reads the schema from the footer (add-classifier.html). Every GetObject the crawl made,
    as the server saw it, is a suffix range: the 8-byte trailer, then exactly the footer; never a data page."""
    lake.put_parquet("processed/orders/dt=2024-01-01/part-a.parquet", orders(list(range(50_000))))
    lake.put_parquet("processed/orders/dt=2024-01-02/part-b.parquet", orders([1]))
    wide = pa.table({f"column_{i:04d}": pa.array([i], pa.int32()) for i in range(1500)})
    lake.put_parquet("processed/wide/dt=2024-01-01/part.parquet", wide)
    lake.create_crawler()
    lake.crawl()
    gets = lake.runs()[-1]["s3_gets"]
    for obj in lake.s3.list_objects_v2(Bucket=lake.bucket)["Contents"]:
        ranges = sorted((g["range"] for g in gets if g["key"] == obj["Key"]), key=len)
        tail = obj["Size"] - 4  # everything but the leading magic would be a whole-object read
        footer_length = int.from_bytes(
            lake.s3.get_object(Bucket=lake.bucket, Key=obj["Key"], Range="bytes=-8")["Body"].read()[:4], "little"
        )
        assert ranges == ["bytes=-8", f"bytes=-{footer_length + 8}"]
        assert footer_length + 8 < tail
    assert len(lake.tables()["wide"]["StorageDescriptor"]["Columns"]) == 1500


def test_a_recrawl_reads_only_the_footers_of_new_or_changed_objects(lake: Lake) -> None:
    """Incremental crawls (https://docs.aws.amazon.com/glue/latest/dg/incremental-crawls.html): localaws caches footers
    by ETag, so an unchanged object is not read again, while a new or overwritten one is, and its new column lands."""
    lake.put_parquet("processed/orders/dt=2024-01-01/part-a.parquet", orders([1]))
    lake.put_parquet("processed/orders/dt=2024-01-02/part-b.parquet", orders([2]))
    lake.create_crawler()
    lake.crawl()
    assert {g["key"] for g in lake.runs()[-1]["s3_gets"]} == {
        "processed/orders/dt=2024-01-01/part-a.parquet",
        "processed/orders/dt=2024-01-02/part-b.parquet",
    }
    assert lake.crawl()["LastCrawl"]["Status"] == "SUCCEEDED"
    assert lake.runs()[-1]["s3_gets"] == []
    lake.put_parquet("processed/orders/dt=2024-01-03/part-c.parquet", orders([3]))
    lake.put_parquet(
        "processed/orders/dt=2024-01-02/part-b.parquet", orders([2]).append_column("channel", pa.array(["web"]))
    )
    assert lake.crawl()["LastCrawl"]["Status"] == "SUCCEEDED"
    assert {g["key"] for g in lake.runs()[-1]["s3_gets"]} == {
        "processed/orders/dt=2024-01-03/part-c.parquet",
        "processed/orders/dt=2024-01-02/part-b.parquet",
    }
    columns = [c["Name"] for c in lake.tables()["orders"]["StorageDescriptor"]["Columns"]]
    assert "channel" in columns
    assert set(lake.partitions("orders")) == {("2024-01-01",), ("2024-01-02",), ("2024-01-03",)}


def test_an_unreadable_parquet_file_fails_the_crawl(lake: Lake) -> None:
    """A failed crawl: LastCrawl Status FAILED with an ErrorMessage, and the crawler back to READY."""
    lake.put_parquet("processed/orders/dt=2024-01-01/part-a.parquet", orders([1]))
    corrupt = b"PAR1" + b"\x00" * 64 + (40).to_bytes(4, "little") + b"PAR1"
    lake.s3.put_object(Bucket=lake.bucket, Key="processed/orders/dt=2024-01-02/broken.parquet", Body=corrupt)
    lake.create_crawler()
    crawler = lake.crawl()
    assert crawler["State"] == "READY"
    assert crawler["LastCrawl"]["Status"] == "FAILED"
    assert "broken.parquet" in crawler["LastCrawl"]["ErrorMessage"]
    assert lake.tables() == {}
    (crawl,) = lake.glue.list_crawls(CrawlerName=lake.crawler)["Crawls"]
    assert crawl["State"] == "FAILED" and "broken.parquet" in crawl["ErrorMessage"]


def test_a_missing_database_fails_the_crawl(lake: Lake) -> None:
    lake.put_parquet("processed/orders/dt=2024-01-01/part-a.parquet", orders([1]))
    lake.database = "no_such_database"
    lake.create_crawler()
    last = lake.crawl()["LastCrawl"]
    assert (last["Status"], last["ErrorMessage"]) == ("FAILED", "Database no_such_database not found")


def test_crawl_new_folders_only_needs_log_policies(lake: Lake) -> None:
    """AWS rejects an incremental crawler whose SchemaChangePolicy is not LOG/LOG (the error Terraform users meet)."""
    with pytest.raises(lake.glue.exceptions.InvalidInputException, match='"Crawl new folders only"'):
        lake.create_crawler(RecrawlPolicy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"})
    lake.create_crawler(
        RecrawlPolicy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"},
        SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"},
    )
    with pytest.raises(lake.glue.exceptions.InvalidInputException, match="LOG UpdateBehavior"):
        lake.glue.update_crawler(Name=lake.crawler, SchemaChangePolicy={"UpdateBehavior": "UPDATE_IN_DATABASE"})


def test_crawl_new_folders_only_adds_new_partitions_and_leaves_the_schema(lake: Lake) -> None:
    """Incremental crawls add new partitions only (https://docs.aws.amazon.com/glue/latest/dg/incremental-crawls.html)."""
    lake.put_parquet("processed/orders/dt=2024-01-01/part-a.parquet", orders([1]))
    lake.create_crawler(
        RecrawlPolicy={"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"},
        SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"},
    )
    lake.crawl()
    lake.put_parquet(
        "processed/orders/dt=2024-01-02/part-b.parquet", orders([2]).append_column("coupon", pa.array(["X"]))
    )
    lake.crawl()
    table = lake.tables()["orders"]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["order_id", "amount", "city"]
    assert set(lake.partitions("orders")) == {("2024-01-01",), ("2024-01-02",)}


def test_table_threshold_fails_the_crawl_before_writing(lake: Lake) -> None:
    """https://docs.aws.amazon.com/glue/latest/dg/crawler-maximum-number-of-tables.html"""
    put_two_datasets(lake)
    configuration = {**PARQUET_CONFIGURATION, "CrawlerOutput": {"Tables": {"TableThreshold": 1}}}
    lake.create_crawler(configuration)
    last = lake.crawl()["LastCrawl"]
    assert (last["Status"], last["ErrorMessage"]) == ("FAILED", "Table Threshold value = 1, Tables detected - 2")
    assert lake.tables() == {}


@pytest.mark.parametrize("role", ["missing", "lambda-trusting"])
def test_a_role_glue_cannot_assume_is_refused(lake: Lake, role: str) -> None:
    """AWS answers InvalidInputException for a missing role and for one that does not trust glue.amazonaws.com
    (pitfall P4); moto accepts both."""
    arn = f"arn:aws:iam::123456789012:role/missing-{uuid.uuid4().hex[:8]}"
    if role == "lambda-trusting":
        arn = create_role(f"lambda-{uuid.uuid4().hex[:8]}", "lambda.amazonaws.com")
    with pytest.raises(lake.glue.exceptions.InvalidInputException, match="Please verify role's TrustPolicy"):
        lake.create_crawler(Role=arn)
    lake.create_crawler()
    with pytest.raises(lake.glue.exceptions.InvalidInputException, match="unable to assume provided role"):
        lake.glue.update_crawler(Name=lake.crawler, Role=arn)
