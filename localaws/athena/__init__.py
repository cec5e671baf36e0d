"""Athena on DuckDB: the query API, SQL translated from Trino, results in Athena's files, costs from Parquet footers.

Modules, in the order a query meets them: api (operations), executions (states and workers), statements (SHOW,
DESCRIBE, MSCK, views, CTAS, EXPLAIN), engine (resolve tables, prune, run), dialect (Trino -> DuckDB), catalog (Glue),
cost (footers, HIVE_BAD_DATA, bytes scanned), results (CSV, metadata, GetQueryResults rows).
"""

from __future__ import annotations

import threading

from localaws.athena import dialect
from localaws.athena.api import AthenaService
from localaws.athena.workgroups import reject_missing_work_group
from localaws.server import LocalAws


def warm_up() -> None:
    """Pay the engine's one-time costs (sqlglot's dialect tables, DuckDB's first connection) before the first query."""
    connection = dialect.connect()
    sql = dialect.to_duckdb(dialect.parse("SELECT date_format(from_iso8601_timestamp('2024-01-01T00:00:00Z'), '%Y')"))
    connection.execute(sql).fetchall()


def install(app: LocalAws) -> None:
    threading.Thread(target=warm_up, name="localaws-athena-warm-up", daemon=True).start()
    service = AthenaService(app)
    for operation, handler in service.operations().items():
        app.override("athena", operation, handler)
    app.on_shutdown(service.executions.shutdown)
    app.validate("athena", "GetWorkGroup", reject_missing_work_group(app))
    app.after("athena", "DeleteWorkGroup", service.forget_deleted_work_group)
