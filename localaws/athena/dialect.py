"""Athena's SQL (Trino, engine v3) on DuckDB: sqlglot translates, then a few fixes where the two still differ.

Functions: https://docs.aws.amazon.com/athena/latest/ug/functions-env3.html
- Integer division truncates in Trino (5 / 2 = 2): DuckDB's `integer_division` setting does the same.
- json_extract_scalar returns NULL for an object or an array; DuckDB's ->> returns their text.
- format_datetime / parse_datetime take Joda (Java) patterns, which sqlglot passes through untranslated.
- Sessions run in UTC, as Athena's do.
"""

from __future__ import annotations

import re

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.dialects.hive import Hive
from sqlglot.errors import ParseError, TokenError
from sqlglot.time import format_time

from localaws.athena import sandbox
from localaws.athena.errors import QueryFailed

# Trino functions DuckDB lacks, as macros created once in the shared database.
MACROS = (
    "CREATE OR REPLACE MACRO trino_json_extract_scalar(j, p) AS "
    "CASE WHEN json_type(CAST(j AS JSON), p) IN ('OBJECT', 'ARRAY') THEN NULL "
    "ELSE json_extract_string(CAST(j AS JSON), p) END",
    "CREATE OR REPLACE MACRO url_extract_host(u) AS regexp_extract(u, '^[A-Za-z][A-Za-z0-9+.-]*://([^/:?#]+)', 1)",
    "CREATE OR REPLACE MACRO url_extract_path(u) AS regexp_extract(u, '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*([^?#]*)', 1)",
    "CREATE OR REPLACE MACRO url_extract_parameter(u, name) AS regexp_extract(u, '[?&]' || name || '=([^&#]*)', 1)",
    "CREATE OR REPLACE MACRO to_iso8601(t) AS strftime(t, '%Y-%m-%dT%H:%M:%S.%g')",
    "CREATE OR REPLACE MACRO codepoint(s) AS unicode(s)",
)
# Global, so every cursor of the database inherits them once the configuration is locked.
SETTINGS = ("SET GLOBAL integer_division = true", "SET GLOBAL TimeZone = 'UTC'")


def connect() -> duckdb.DuckDBPyConnection:
    """A DuckDB database for Athena SQL: no file, network or extension access from SQL, macros created, settings
    locked (see sandbox.py). Table data can reach it only as Arrow objects the engine registers on a cursor."""
    connection = duckdb.connect(config=dict(sandbox.DUCKDB_CONFIG))
    for statement in (*SETTINGS, *MACROS):
        connection.execute(statement)
    connection.execute("SET GLOBAL lock_configuration = true")
    return connection


def configure_cursor(cursor: duckdb.DuckDBPyConnection) -> None:
    """A cursor inherits the database's global settings; nothing is left to set (and the configuration is locked)."""


def parse(sql: str) -> exp.Expression:
    """Parse Athena SQL, failing the query as Athena does on a syntax error ('line L:C: ...') or on a function Athena
    does not have (FUNCTION_NOT_FOUND, see sandbox.py)."""
    try:
        tree = sqlglot.parse_one(sql, read="trino")
    except ParseError as error:
        detail = error.errors[0] if error.errors else {}
        line, col = detail.get("line", 1), detail.get("col", 1)
        highlight = detail.get("highlight") or ""
        description = re.sub(r" but got <Token.*", "", detail.get("description") or str(error))
        at = max(1, col - len(highlight) + 1)
        raise QueryFailed(f"line {line}:{at}: mismatched input '{highlight}'. {description}", error_type=1005) from None
    except TokenError as error:
        raise QueryFailed(f"line 1:1: {error}", error_type=1005) from None
    if tree is None:
        raise QueryFailed("line 1:1: mismatched input '<EOF>'", error_type=1005)
    sandbox.check(tree, sql)
    return tree


def _joda_to_strftime(pattern: str) -> str:
    return format_time(pattern, Hive.TIME_MAPPING, Hive.TIME_TRIE)


def _fix(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DateDiff) and node.args.get("unit") is not None:
        # Trino counts whole units elapsed (09:00:00.900 -> 09:00:01.100 is 0 seconds); DuckDB's date_diff counts
        # boundaries crossed (1), its date_sub counts whole units. https://trino.io/docs/current/functions/datetime.html
        unit = exp.Literal.string(node.args["unit"].name.lower())
        return exp.Anonymous(this="date_sub", expressions=[unit, node.expression, node.this])
    if isinstance(node, exp.RegexpExtract):
        # Trino returns NULL when the pattern does not match; DuckDB returns ''.
        # https://trino.io/docs/current/functions/regexp.html#regexp_extract
        arguments = [node.this, node.expression, node.args.get("group") or exp.Literal.number(0)]
        extract = exp.Anonymous(this="regexp_extract", expressions=[argument.copy() for argument in arguments])
        matches = exp.Anonymous(this="regexp_matches", expressions=[node.this.copy(), node.expression.copy()])
        return exp.Case(ifs=[exp.If(this=matches, true=extract)])
    if isinstance(node, exp.JSONExtractScalar):
        return exp.Anonymous(this="trino_json_extract_scalar", expressions=[node.this, node.expression])
    if isinstance(node, exp.ParseDatetime) and isinstance(node.args.get("format"), exp.Literal):
        fmt = exp.Literal.string(_joda_to_strftime(node.args["format"].this))
        return exp.StrToTime(this=node.this, format=fmt)
    if isinstance(node, exp.Anonymous) and len(node.expressions) == 2:
        name = str(node.this).lower()
        value, pattern = node.expressions
        if name in ("format_datetime", "parse_datetime") and isinstance(pattern, exp.Literal):
            fmt = exp.Literal.string(_joda_to_strftime(pattern.this))
            if name == "format_datetime":
                return exp.TimeToStr(this=value, format=fmt)
            return exp.StrToTime(this=value, format=fmt)
    return node


def to_duckdb(tree: exp.Expression) -> str:
    """DuckDB SQL for a parsed Trino statement."""
    fixed = tree.copy().transform(_fix)
    return fixed.sql(dialect="duckdb")
