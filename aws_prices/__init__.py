"""AWS's published prices, as the one place that turns a usage figure into dollars. Standard library only: both
`kit/` (what the scripts and notebooks print) and `localaws/` (its console) import it, so the two never disagree,
and it imports nothing of the project.

Athena (https://aws.amazon.com/athena/pricing/, SQL queries, per data scanned): $5 per TB scanned, rounded up to
the nearest megabyte, with a 10 MB minimum per query; DDL statements (CREATE/ALTER/DROP TABLE, managing partitions)
and failed queries are not charged; cancelled queries are charged for the data they scanned.
"""

from __future__ import annotations

import math

MB = 1024**2
TB = 1024**4
ATHENA_PRICE_PER_TB_USD = 5.0
ATHENA_MINIMUM_BILLED_BYTES = 10 * MB


def athena_billed_bytes(
    scanned_bytes: int, *, statement_type: str = "DML", substatement_type: str = "", state: str = "SUCCEEDED"
) -> int:
    """The bytes Athena bills for one query execution: its DataScannedInBytes rounded up to whole MB, at least
    10 MB, even when it scanned nothing (`SELECT 1`). 0 for a failed query and for a statement that is not a query:
    StatementType "DDL" other than CTAS (SubstatementType CREATE_TABLE_AS_SELECT, which scans like a SELECT) and
    "UTILITY" (SHOW, DESCRIBE, EXPLAIN: metadata only). Types and states as GetQueryExecution reports them."""
    if state == "FAILED":
        return 0
    if statement_type != "DML" and substatement_type != "CREATE_TABLE_AS_SELECT":
        return 0
    return max(math.ceil(scanned_bytes / MB) * MB, ATHENA_MINIMUM_BILLED_BYTES)


def athena_query_cost_usd(
    scanned_bytes: int, *, statement_type: str = "DML", substatement_type: str = "", state: str = "SUCCEEDED"
) -> float:
    """What one Athena query execution costs on AWS, in US dollars (athena_billed_bytes at $5 per TB)."""
    billed = athena_billed_bytes(
        scanned_bytes, statement_type=statement_type, substatement_type=substatement_type, state=state
    )
    return billed / TB * ATHENA_PRICE_PER_TB_USD
