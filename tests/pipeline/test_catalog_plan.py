"""The catalog updater's pure decisions: when a crawl covers a file, what the fast path registers, retry delays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.catalog_plan import CLOCK_MARGIN, CrawlerView, LandedFile, partition_plan, retry_delay_s, uncovered

pytestmark = pytest.mark.layer
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def landed(seconds_before_now: float, key: str = "processed/orders/dt=2024-05-01/a.parquet") -> LandedFile:
    return LandedFile("m", "bucket", key, NOW - timedelta(seconds=seconds_before_now))


def running(elapsed_s: float) -> dict:
    return {"State": "RUNNING", "CrawlElapsedTime": int(elapsed_s * 1000)}


def test_a_running_crawl_covers_files_that_landed_before_it_started_and_not_after() -> None:
    view = CrawlerView.of(running(10), asked_at=NOW)  # started at NOW - 10 s
    early, late = landed(20), landed(5)
    assert uncovered([early, late], view) == [late]


def test_a_file_landing_within_the_clock_margin_before_the_start_is_not_covered() -> None:
    view = CrawlerView.of(running(10), asked_at=NOW)
    just_before = landed(10 + CLOCK_MARGIN.total_seconds() / 2)
    assert uncovered([just_before], view) == [just_before]


def test_the_crawl_start_is_computed_from_a_time_taken_before_asking() -> None:
    """The flaw of the polling trigger: `now` read after GetCrawler answered (late, under load) moves the start
    forward by the delay and covers a file the crawl listed before it landed. With the time taken before asking,
    the start computed is never later than the real one."""
    real_start = NOW - timedelta(seconds=10)
    answered = NOW  # GetCrawler computed CrawlElapsedTime = 10 s at NOW
    file = LandedFile("m", "b", "processed/t/dt=x/a.parquet", real_start + timedelta(seconds=3))
    asked_before = answered - timedelta(seconds=1)
    assert uncovered([file], CrawlerView.of(running(10), asked_at=asked_before)) == [file]


@pytest.mark.parametrize(("status", "covers"), [("SUCCEEDED", True), ("FAILED", False), ("CANCELLED", False)])
def test_only_a_succeeded_last_crawl_that_started_after_the_file_covers_it(status: str, covers: bool) -> None:
    crawler = {"State": "READY", "LastCrawl": {"Status": status, "StartTime": NOW - timedelta(seconds=30)}}
    view = CrawlerView.of(crawler, asked_at=NOW)
    assert (uncovered([landed(60)], view) == []) is covers
    assert uncovered([landed(20)], view) != []  # landed after that crawl started


def test_a_stopping_crawler_covers_nothing() -> None:
    view = CrawlerView.of({"State": "STOPPING", "CrawlElapsedTime": 5000}, asked_at=NOW)
    assert uncovered([landed(600)], view) != []


def test_retry_delay_doubles_per_receive_up_to_a_minute() -> None:
    assert [retry_delay_s(n) for n in (1, 2, 3, 4, 5, 6, 7, 50)] == [2, 4, 8, 16, 32, 60, 60, 60]


TABLE = {
    "PartitionKeys": [{"Name": "dt", "Type": "string"}],
    "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}], "Location": "s3://bucket/processed/orders/"},
}
RECORD = {"columns": [{"name": "id", "type": "bigint"}]}


def test_the_fast_path_registers_the_partition_with_the_tables_storage_descriptor() -> None:
    plan, why = partition_plan(landed(1), TABLE, RECORD)
    assert why == "registered"
    assert plan == {
        "Values": ["2024-05-01"],
        "StorageDescriptor": {**TABLE["StorageDescriptor"], "Location": "s3://bucket/processed/orders/dt=2024-05-01/"},
    }


@pytest.mark.parametrize(
    ("table", "record", "key", "reason"),
    [
        (None, RECORD, "processed/orders/dt=2024-05-01/a.parquet", "new table"),
        (TABLE, None, "processed/orders/dt=2024-05-01/a.parquet", "no schema record"),
        (TABLE, {"columns": [*RECORD["columns"], {"name": "c", "type": "string"}]}, None, "schema of orders changed"),
        (TABLE, RECORD, "processed/orders/a.parquet", "not under processed/<dataset>/<key>=<value>/"),
        (TABLE, RECORD, "processed/orders/day=2024-05-01/a.parquet", "partition keys"),
    ],
)
def test_anything_but_a_new_partition_of_an_unchanged_table_needs_a_crawl(table, record, key, reason) -> None:
    file = landed(1, key or "processed/orders/dt=2024-05-01/a.parquet")
    plan, why = partition_plan(file, table, record)
    assert plan is None
    assert why.startswith(reason)


def test_crawl_interval_wait_counts_from_the_last_crawl_start() -> None:
    from pipeline.catalog_plan import crawl_interval_wait_s

    crawler = {"State": "READY", "LastCrawl": {"Status": "SUCCEEDED", "StartTime": NOW - timedelta(seconds=20)}}
    view = CrawlerView.of(crawler, asked_at=NOW)
    assert crawl_interval_wait_s(view, NOW, 60) == 40
    assert crawl_interval_wait_s(view, NOW, 15) == 0
    assert crawl_interval_wait_s(CrawlerView.of({"State": "READY"}, asked_at=NOW), NOW, 60) == 0  # never crawled
