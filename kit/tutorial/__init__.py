"""What the tutorial notebooks share, so that they narrate and import instead of defining code: `from kit import
tutorial`, then `tutorial.<name>`.

1. `world`: `describe_world` says which world a notebook is connected to (a localaws endpoint, or an AWS account and
   region) and holds the stack's outputs; `probe_resources` checks that each resource of the stack exists.
2. `waiting`: `wait_for_pipeline` waits on state until every upload has its output and the Glue catalog has caught up:
   on localaws through its idle endpoint, on AWS by polling S3 and the crawler with `kit.waiting.wait_until`.
3. Readable views of each stage as DataFrames: `bucket` (objects, Parquet, sizes, event rules, quarantine), `lambdas`
   (flattening one record, log lines, REPORT costs) and `catalog` (crawler, tables, partitions, query costs).
"""

from kit.tutorial.bucket import (
    list_objects,
    notification_rules,
    parquet_footer,
    parquet_metadata,
    quarantine_report,
    read_dataset,
    read_parquet_object,
    size_comparison,
)
from kit.tutorial.catalog import (
    catalog_tables,
    catalog_updater_summary,
    cost_table,
    crawl_history,
    crawler_summary,
    scan_comparison,
    schema_changes,
    table_columns,
    table_partitions,
)
from kit.tutorial.charts import bar_chart
from kit.tutorial.lambdas import (
    flatten_preview,
    invocation_lines,
    json_log_records,
    lambda_cost_usd,
    lambda_reports,
    log_messages,
    object_log_records,
    readable_log,
    s3_event_keys,
    s3_event_records,
    s3_events,
)
from kit.tutorial.waiting import PipelineState, wait_for_pipeline
from kit.tutorial.world import (
    STACK_ENV,
    World,
    describe_world,
    expected_counts,
    least_privilege_report,
    probe_resources,
    readable_tables,
    repo_root,
    run_script,
    sample_dir,
    stack_name,
    tagged_resources,
    wait_until_untagged,
)

__all__ = [
    "STACK_ENV",
    "PipelineState",
    "World",
    "bar_chart",
    "catalog_tables",
    "catalog_updater_summary",
    "cost_table",
    "crawl_history",
    "crawler_summary",
    "describe_world",
    "expected_counts",
    "flatten_preview",
    "invocation_lines",
    "json_log_records",
    "lambda_cost_usd",
    "lambda_reports",
    "least_privilege_report",
    "list_objects",
    "log_messages",
    "notification_rules",
    "object_log_records",
    "parquet_footer",
    "parquet_metadata",
    "probe_resources",
    "quarantine_report",
    "read_dataset",
    "read_parquet_object",
    "readable_log",
    "readable_tables",
    "repo_root",
    "run_script",
    "s3_event_keys",
    "s3_event_records",
    "s3_events",
    "sample_dir",
    "scan_comparison",
    "schema_changes",
    "size_comparison",
    "stack_name",
    "table_columns",
    "table_partitions",
    "tagged_resources",
    "wait_for_pipeline",
    "wait_until_untagged",
]
