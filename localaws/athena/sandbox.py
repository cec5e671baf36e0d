"""Athena's SQL sandbox: only functions Athena has reach DuckDB, and DuckDB itself cannot touch the host.

Two layers, so that either alone still holds:
- the parsed Trino tree is checked before translation: every function call must be a Trino function
  (`functions_allowed`), and no function may stand in FROM as a table (DuckDB's `read_csv`, `glob`, `duckdb_settings()`
  are table functions; Trino has only UNNEST there). A refusal is Athena's FUNCTION_NOT_FOUND, positioned as Trino
  positions it ("line 1:15: Function 'read_text' not registered").
- the DuckDB database runs with `enable_external_access = false` and `lock_configuration = true`
  (https://duckdb.org/docs/stable/operations_manual/securing_duckdb/overview), so no SQL can open a path or a URL, load
  an extension or undo a setting. Table data reaches it only as the Arrow datasets the engine registers.
Views are checked the same way, when created (their body runs as a probe) and at every use (expanded from Glue and
parsed again).
"""

from __future__ import annotations

from sqlglot import exp

from localaws.athena.errors import QueryFailed, position
from localaws.athena.functions_allowed import is_allowed

# Nodes sqlglot builds from SQL syntax rather than from a call written as `name(...)`: CAST(x AS t), CASE, ARRAY[...],
# EXTRACT(f FROM x), AND/OR, JSON '...', POSITION(a IN b), SUBSTRING(a FROM 1), TRIM(BOTH ...), CURRENT_DATE...
# Their source carries no name to check; each stands for a Trino construct.
SYNTAX = (
    exp.Cast, exp.TryCast, exp.Case, exp.If, exp.Array, exp.Extract, exp.And, exp.Or, exp.ParseJSON, exp.StrPosition,
    exp.Substring, exp.Trim, exp.Normalize, exp.Chr, exp.Floor, exp.Ceil, exp.CurrentDate, exp.CurrentTime,
    exp.CurrentTimestamp, exp.Localtime, exp.Localtimestamp, exp.CurrentUser, exp.Exists, exp.GroupConcat, exp.ArgMax,
    exp.ArgMin, exp.Unnest, exp.Struct, exp.Map, exp.Coalesce, exp.Xor,
)  # fmt: skip

DUCKDB_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
}


def written_name(node: exp.Func, sql: str) -> str | None:
    """The function name as the query spells it, or None for a node built from syntax (CAST, CASE, ARRAY[...])."""
    if isinstance(node, exp.Anonymous):
        return node.name
    meta = node.meta or {}
    start, end = meta.get("start"), meta.get("end")
    if start is not None and end is not None and 0 <= start <= end < len(sql):
        return sql[start : end + 1].strip('"`')
    if isinstance(node, SYNTAX):
        return None
    return node.sql_name().lower()


def check(tree: exp.Expression, sql: str) -> None:
    """Raise QueryFailed(FUNCTION_NOT_FOUND) when `tree` (parsed from `sql`) calls anything Athena does not have."""
    for table in tree.find_all(exp.Table):
        inner = table.this
        if isinstance(inner, exp.Func):
            name = written_name(inner, sql) or inner.sql_name().lower()
            raise QueryFailed(f"FUNCTION_NOT_FOUND: {position(inner)}Table function '{name.lower()}' not registered")
    for node in tree.find_all(exp.Func):
        name = written_name(node, sql)
        if name is not None and not is_allowed(name):
            raise QueryFailed(f"FUNCTION_NOT_FOUND: {position(node)}Function '{name.lower()}' not registered")
