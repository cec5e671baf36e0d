"""The catalog updater's settings: the crawler trigger's timeout, its queue's visibility timeout and redrive, and the
event source mapping that feeds it. Why these values: docs/transform.md, "The catalog updater"."""

from __future__ import annotations

from typing import Any

# The catalog updater (docs/transform.md, "The catalog updater"): it never waits, so a minute is ample for a batch
# (a few Glue calls, one ChangeMessageVisibilityBatch per 10 retried messages); the catalog queue's visibility timeout
# is 6x that, as Lambda's SQS guide asks (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
TRIGGER_TIMEOUT_S = 60
VISIBILITY_TIMEOUT_FACTOR = 6
# The batching window gathers a burst into a few invocations (0-300 s; a batch over 10 messages needs >= 1 s). It is
# also the latency it adds to every file, so it is short: 2 s keeps a file's partition queryable about 2 s after its
# Parquet lands, and a burst still makes one batch per 2 s (each a few Glue calls, well under a second; 5 s saved
# invocations worth a fraction of a cent and cost 3 s of every upload's wait). A batch of 1,000 S3 events is ~1.5 MB,
# within the 6 MB invocation payload:
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html
CATALOG_BATCH_SIZE = 1000
CATALOG_BATCH_WINDOW_S = 2
# A message waiting for a crawl is received again every 2-60 s (catalog_plan.retry_delay_s), and a throttled
# batch counts a receive too: 100 receives are more than an hour of a crawler that stays busy. Only then does the
# message go to the catalog dead-letter queue.
CATALOG_MAX_RECEIVE_COUNT = 100
TRIGGER_RESERVED_CONCURRENCY = 1  # one catalog writer at a time
# Without reserved concurrency (an account with a quota of 10 can reserve none), the mapping's maximum concurrency
# (minimum 2) bounds the trigger instead, so it never takes more than 2 of the account's 10 executions:
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
FALLBACK_MAXIMUM_CONCURRENCY = 2


def mapping_settings(batch_size: int, window_s: int, *, reserved: int | None) -> dict[str, Any]:
    """CreateEventSourceMapping settings: batches, batching window, partial batch responses; a maximum concurrency
    only when the function could not reserve its concurrency. Once it can (a re-run after the account's quota grew or
    other reservations went), ScalingConfig is the empty value, which removes the fallback left by an earlier run
    ("To remove the configuration, pass an empty value":
    https://docs.aws.amazon.com/lambda/latest/api/API_ScalingConfig.html): the reservation bounds the trigger then,
    and a mapping maximum above it would only have Lambda's poller throttled by it
    (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html)."""
    settings: dict[str, Any] = {
        "BatchSize": batch_size,
        "MaximumBatchingWindowInSeconds": window_s,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }
    if reserved is None:
        settings["ScalingConfig"] = {"MaximumConcurrency": FALLBACK_MAXIMUM_CONCURRENCY}
    else:
        settings["ScalingConfig"] = {}
    return settings


def deployed_catalog_mode(function: dict | None) -> str | None:
    """The ETL_CATALOG_MODE a deployed crawler trigger runs with (`function` is GetFunction's answer), or None when
    there is no such function or it has no mode. provision.py keeps it when --catalog is not given, so a plain re-run
    (or `make lab`) does not switch a stack from crawler mode back to the default."""
    if function is None:
        return None
    variables = function["Configuration"].get("Environment", {}).get("Variables", {})
    return variables.get("ETL_CATALOG_MODE")
