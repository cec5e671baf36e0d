"""The crawler-trigger Lambda against moto's Glue: a running crawler is not an error, and no file is missed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from pipeline import lambda_crawler_trigger as trigger

pytestmark = pytest.mark.layer
CRAWLER = "etl-test-crawler"


class FakeContext:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def glue(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    with mock_aws():
        client = boto3.client("glue", region_name="us-east-1")
        client.create_database(DatabaseInput={"Name": "etl"})
        client.create_crawler(
            Name=CRAWLER,
            Role="arn:aws:iam::123456789012:role/crawler",
            DatabaseName="etl",
            Targets={"S3Targets": [{"Path": "s3://bucket/processed/orders/"}]},
        )
        monkeypatch.setitem(trigger._clients, "glue", client)
        monkeypatch.setenv("ETL_CRAWLER_NAME", CRAWLER)
        yield client


def event_at(moment: datetime) -> dict:
    return {
        "Records": [
            {
                "eventTime": moment.isoformat().replace("+00:00", "Z"),
                "s3": {"bucket": {"name": "bucket"}, "object": {"key": "processed/orders/dt=2024-05-01/x.parquet"}},
            }
        ]
    }


def finish_crawl_on_poll(glue, monkeypatch) -> list[float]:
    """moto keeps a crawl RUNNING until list_crawls is called: let each wait finish the running crawl."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        glue.list_crawls(CrawlerName=CRAWLER)

    monkeypatch.setattr(trigger, "_sleep", sleep)
    return waits


def test_starts_an_idle_crawler(glue) -> None:
    result = trigger.handler(event_at(datetime.now(UTC)), FakeContext(60_000))
    assert result["outcome"] == "started"
    assert glue.get_crawler(Name=CRAWLER)["Crawler"]["State"] == "RUNNING"


def test_running_crawler_is_not_an_error_and_a_file_landing_mid_crawl_gets_another_crawl(glue, monkeypatch) -> None:
    glue.start_crawler(Name=CRAWLER)  # a crawl that started before our file landed
    landed = datetime.now(UTC) + timedelta(seconds=1)
    waits = finish_crawl_on_poll(glue, monkeypatch)
    result = trigger.handler(event_at(landed), FakeContext(60_000))
    assert result == {"crawler": CRAWLER, "outcome": "started", "attempts": 2}
    assert waits  # it waited for the running crawl instead of giving up
    assert glue.get_crawler(Name=CRAWLER)["Crawler"]["State"] == "RUNNING"


def test_a_crawl_started_after_the_file_landed_covers_it(glue, monkeypatch) -> None:
    landed = datetime.now(UTC) - timedelta(minutes=5)
    glue.start_crawler(Name=CRAWLER)
    finish_crawl_on_poll(glue, monkeypatch)
    result = trigger.handler(event_at(landed), FakeContext(60_000))
    assert result["outcome"].startswith("covered")


def test_a_file_already_covered_by_a_finished_crawl_starts_no_new_crawl(glue) -> None:
    landed = datetime.now(UTC) - timedelta(minutes=5)
    glue.start_crawler(Name=CRAWLER)
    glue.list_crawls(CrawlerName=CRAWLER)  # moto finishes the crawl
    result = trigger.handler(event_at(landed), FakeContext(60_000))
    assert result["outcome"] == "covered by a finished crawl"
    assert glue.get_crawler(Name=CRAWLER)["Crawler"]["State"] == "READY"


def test_out_of_time_raises_so_lambda_retries(glue, monkeypatch) -> None:
    glue.start_crawler(Name=CRAWLER)
    monkeypatch.setattr(trigger, "_sleep", lambda seconds: None)
    with pytest.raises(trigger.CrawlerWaitTimeout):
        trigger.handler(event_at(datetime.now(UTC)), FakeContext(12_000))
