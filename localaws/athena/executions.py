"""Query executions: the store, their states and the workers that run them.

States: QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED
(https://docs.aws.amazon.com/athena/latest/APIReference/API_QueryExecutionStatus.html).
StartQueryExecution waits up to `START_WAIT_SECONDS` for the query to finish, so a short query is already SUCCEEDED at
the client's first GetQueryExecution and pyathena's 1 s polling costs nothing.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from localaws.athena.errors import SYSTEM, QueryCancelled, QueryFailed
from localaws.athena.results import ResultSet

log = logging.getLogger("localaws.athena")

# StartQueryExecution answers once the query is done or after this long. Clients poll GetQueryExecution and sleep
# between polls (pyathena: 1 s), so answering a short query finished saves that sleep; a long query is unaffected.
START_WAIT_SECONDS = 2.0
ENGINE_VERSION = "Athena engine version 3"
WORKERS = 4


@dataclass
class Execution:
    id: str
    query: str
    work_group: str
    database: str
    catalog: str
    output_location: str  # the folder; the result file is <output_location>/<id>.<ext>
    statement_type: str
    substatement_type: str
    region: str
    cutoff: int | None = None
    parameters: list[str] = field(default_factory=list)  # ExecutionParameters
    state: str = "QUEUED"
    reason: str | None = None
    error: QueryFailed | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    completed: float | None = None
    bytes_scanned: int = 0
    update_count: int | None = None  # rows a CTAS, INSERT INTO or UNLOAD wrote
    manifest_location: str | None = None
    result: ResultSet | None = None
    result_file: str | None = None
    cursor: duckdb.DuckDBPyConnection | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def shape(self) -> dict:
        """The QueryExecution structure. https://docs.aws.amazon.com/athena/latest/APIReference/API_QueryExecution.html"""
        status: dict = {"State": self.state, "SubmissionDateTime": self.submitted}
        if self.completed is not None:
            status["CompletionDateTime"] = self.completed
        if self.reason:
            status["StateChangeReason"] = self.reason
        if self.error is not None:
            status["AthenaError"] = {
                "ErrorCategory": self.error.category,
                "ErrorType": self.error.error_type,
                "Retryable": self.error.retryable,
                "ErrorMessage": self.error.message,
            }
        end = self.completed or time.time()
        started = self.started or end
        queue_ms = int((started - self.submitted) * 1000)
        engine_ms = int((end - started) * 1000)
        statistics = {
            "EngineExecutionTimeInMillis": engine_ms,
            "DataScannedInBytes": self.bytes_scanned,
            "TotalExecutionTimeInMillis": int((end - self.submitted) * 1000),
            "QueryQueueTimeInMillis": queue_ms,
            "ServicePreProcessingTimeInMillis": 0,
            "QueryPlanningTimeInMillis": 0,
            "ServiceProcessingTimeInMillis": 0,
        }
        if self.manifest_location:
            statistics["DataManifestLocation"] = self.manifest_location
        location = self.result_file or f"{self.output_location.rstrip('/')}/{self.id}.csv"
        context = {"Catalog": self.catalog}
        if self.database:
            context["Database"] = self.database
        return {
            "QueryExecutionId": self.id,
            "Query": self.query,
            "StatementType": self.statement_type,
            "SubstatementType": self.substatement_type,
            "ResultConfiguration": {"OutputLocation": location},
            "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
            "QueryExecutionContext": context,
            "Status": status,
            "Statistics": statistics,
            "WorkGroup": self.work_group,
            "EngineVersion": {"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": ENGINE_VERSION},
            **({"ExecutionParameters": self.parameters} if self.parameters else {}),
        }


Runner = Callable[[Execution], None]


class Executions:
    """Every execution since the server started, and a small pool of workers (Athena also queues queries)."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self._items: dict[str, Execution] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="athena-query")

    def new_id(self) -> str:
        return str(uuid.uuid4())

    def submit(self, execution: Execution, on_done: Callable[[], None]) -> None:
        with self._lock:
            self._items[execution.id] = execution
        self._pool.submit(self._run, execution, on_done)

    def get(self, query_id: str) -> Execution | None:
        with self._lock:
            return self._items.get(query_id)

    def all(self) -> list[Execution]:
        with self._lock:
            return sorted(self._items.values(), key=lambda e: e.submitted, reverse=True)

    def forget_work_group(self, work_group: str, region: str) -> int:
        """Drop a deleted workgroup's query history (its running queries are stopped first); returns how many."""
        with self._lock:
            gone = [e for e in self._items.values() if e.work_group == work_group and e.region == region]
        for execution in gone:
            self.stop(execution)
        with self._lock:
            for execution in gone:
                self._items.pop(execution.id, None)
        return len(gone)

    def stop(self, execution: Execution) -> None:
        with self._lock:
            if execution.state in ("SUCCEEDED", "FAILED", "CANCELLED"):
                return
            if execution.state == "QUEUED":
                self._finish(execution, "CANCELLED", None)
                return
            execution.state = "CANCELLED"
            cursor = execution.cursor
        if cursor is not None:
            cursor.interrupt()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, execution: Execution, on_done: Callable[[], None]) -> None:
        try:
            with self._lock:
                if execution.state != "QUEUED":
                    return
                execution.state = "RUNNING"
                execution.started = time.time()
            try:
                self._runner(execution)
            except QueryCancelled:
                self._finish(execution, "CANCELLED", None)
            except QueryFailed as failure:
                log.info("athena query %s failed: %s", execution.id, failure.message)
                self._finish(execution, "FAILED", failure)
            except Exception as error:  # the worker's boundary: a bug in localaws fails this query, not the server
                log.exception("athena query %s: internal error", execution.id)
                internal = QueryFailed(f"GENERIC_INTERNAL_ERROR: {type(error).__name__}: {error}", category=SYSTEM)
                self._finish(execution, "FAILED", internal)
            else:
                with self._lock:
                    cancelled = execution.state == "CANCELLED"
                self._finish(execution, "CANCELLED" if cancelled else "SUCCEEDED", None)
        finally:
            execution.cursor = None
            execution.done.set()
            on_done()

    @staticmethod
    def _finish(execution: Execution, state: str, failure: QueryFailed | None) -> None:
        execution.state = state
        execution.completed = execution.completed or time.time()
        if failure is not None:
            execution.error = failure
            execution.reason = failure.message
        elif state == "CANCELLED":
            execution.reason = execution.reason or "Query cancelled by user"
        execution.done.set()


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()
