"""Athena on DuckDB: the query API, SQL translated from Trino, results in Athena's files, costs from Parquet footers.

Modules, in the order a query meets them: api (operations), executions (states and workers), statements (SHOW,
DESCRIBE, MSCK, views, CTAS, EXPLAIN), engine (resolve tables, prune, run), dialect (Trino -> DuckDB), catalog (Glue),
cost (footers, HIVE_BAD_DATA, bytes scanned), results (CSV, metadata, GetQueryResults rows).
"""

from __future__ import annotations

from localaws.athena.api import AthenaService
from localaws.server import LocalAws


def install(app: LocalAws) -> None:
    service = AthenaService(app)
    for operation, handler in service.operations().items():
        app.override("athena", operation, handler)
    app.on_shutdown(service.executions.shutdown)
