"""Run Athena SQL into pandas DataFrames with pyathena, and say what each query scanned, took and would cost.

The same code runs against AWS and localaws: pyathena's boto3 clients follow AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pyathena.pandas.cursor import PandasCursor

from aws_prices import athena_query_cost_usd
from kit.athena_client import connect


@dataclass(frozen=True)
class QueryRun:
    sql: str
    query_id: str
    frame: pd.DataFrame
    data_scanned_bytes: int
    engine_ms: int
    total_ms: int
    wall_s: float
    statement_type: str = "DML"  # GetQueryExecution's StatementType/SubstatementType: what Athena bills
    substatement_type: str = "SELECT"

    @property
    def cost_usd(self) -> float:
        """What this query would cost on AWS (aws_prices: $5 per TB, rounded up to whole MB, 10 MB minimum), the
        same figure the localaws console shows for it."""
        return athena_query_cost_usd(
            self.data_scanned_bytes, statement_type=self.statement_type, substatement_type=self.substatement_type
        )

    def summary(self) -> str:
        return (
            f"{len(self.frame)} rows · {human_bytes(self.data_scanned_bytes)} scanned · "
            f"engine {self.engine_ms} ms, round trip {self.wall_s:.2f} s · "
            f"on AWS ≈ ${self.cost_usd:.6f} (billed as at least 10 MB)"
        )


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"


def connect_athena(outputs: dict[str, Any], **kwargs: Any):
    """A pyathena connection to the stack's workgroup (which holds the results location, pitfall P14)."""
    return connect(
        work_group=outputs["workgroup"],
        region_name=outputs["region"],
        schema_name=outputs["glue_database"],
        **kwargs,
    )


@functools.cache
def _pandas_connection(work_group: str, region: str, database: str, endpoint: str | None):
    """One connection per stack and endpoint, reused across queries: building its boto3 clients is the slow part.
    `endpoint` only keys the cache, so a process that switches AWS_ENDPOINT_URL gets a fresh connection."""
    del endpoint
    outputs = {"workgroup": work_group, "region": region, "glue_database": database}
    return connect_athena(outputs, cursor_class=PandasCursor)


def run_query(sql: str, outputs: dict[str, Any]) -> QueryRun:
    """Run one query in the stack's workgroup and return its DataFrame with its statistics."""
    started = time.perf_counter()
    connection = _pandas_connection(
        outputs["workgroup"], outputs["region"], outputs["glue_database"], os.environ.get("AWS_ENDPOINT_URL")
    )
    cursor = connection.cursor()
    cursor.execute(sql)
    frame = cursor.as_pandas()
    return QueryRun(
        sql=sql,
        query_id=cursor.query_id,
        frame=frame,
        data_scanned_bytes=cursor.data_scanned_in_bytes or 0,
        engine_ms=cursor.engine_execution_time_in_millis or 0,
        total_ms=cursor.total_execution_time_in_millis or 0,
        wall_s=time.perf_counter() - started,
        statement_type=cursor.statement_type or "DML",
        substatement_type=cursor.substatement_type or "",
    )
