"""Athena's SQL (Trino, engine v3) on DuckDB: parse with sqlglot, type the tree as Trino does, translate each function.

- parse: Trino's grammar (subscripts kept as written, date patterns kept raw), the sandbox's allow-list, decimal
  literal types.
- to_duckdb: trino_types annotates the tree (columns typed from the catalog), functions/ rewrites every node whose
  DuckDB meaning differs from Trino's (https://trino.io/docs/current/functions.html), sqlglot writes DuckDB SQL.
- Integer division truncates in Trino (5 / 2 = 2): DuckDB's `integer_division` setting does the same. Sessions run
  in UTC, as Athena's do.
Functions: https://docs.aws.amazon.com/athena/latest/ug/functions-env3.html
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
import typing

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.dialects.trino import Trino
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.optimizer.qualify import qualify
from sqlglot.tokens import TokenType

from localaws.athena import functions, sandbox, trino_types, trino_zones
from localaws.athena.errors import QueryFailed
from localaws.athena.functions import timezones

log = logging.getLogger("localaws.athena")

# Trino functions DuckDB lacks, as macros created once in the shared database.
MACROS = (
    "CREATE OR REPLACE MACRO trino_json_extract_scalar(j, p) AS "
    "CASE WHEN json_type(CAST(j AS JSON), p) IN ('OBJECT', 'ARRAY') THEN NULL "
    "ELSE json_extract_string(CAST(j AS JSON), p) END",
)
# Global, so every cursor of the database inherits them once the configuration is locked.
SETTINGS = ("SET GLOBAL integer_division = true", "SET GLOBAL TimeZone = 'UTC'")


KEPT_PATTERN_FUNCTIONS = ("date_format", "date_parse", "format_datetime", "parse_datetime")


def _keep_pattern(name: str, args: list) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=args)


class Athena(Trino):
    """Trino as Athena parses it, except that subscripts stay as written (1-based): sqlglot shifts a literal index
    of what it guesses is an array, and that guess is wrong for a map (m[1]); the translation writes every
    subscript as an explicit array or map access instead (functions.arrays.subscript)."""

    INDEX_OFFSET = 0

    class Parser(Trino.Parser):
        # Keep the original patterns: functions.datetime converts Trino's MySQL and Joda patterns itself.
        FUNCTIONS: typing.ClassVar[dict] = {
            **Trino.Parser.FUNCTIONS,
            **{name.upper(): functools.partial(_keep_pattern, name) for name in KEPT_PATTERN_FUNCTIONS},
            "DATE_TRUNC": lambda args: _date_trunc(Trino.Parser.FUNCTIONS["DATE_TRUNC"], args),
        }


def _date_trunc(build: typing.Callable, args: list) -> exp.Expression:
    """date_trunc(unit, x) with the unit an expression (a column): sqlglot makes any unit a keyword, so
    date_trunc(u, x) would truncate to a unit named 'u'; the expression is kept for functions.datetime."""
    node = build(args)
    unit = args[0] if args else None
    if unit is not None and not isinstance(unit, (exp.Literal, exp.Var)) and "unit" in node.arg_types:
        node.set("unit", unit)
    return node


def connect() -> duckdb.DuckDBPyConnection:
    """A DuckDB database for Athena SQL: no file, network or extension access from SQL, macros created, settings
    locked (see sandbox.py). Table data can reach it only as Arrow objects the engine registers on a cursor."""
    connection = duckdb.connect(config=dict(sandbox.DUCKDB_CONFIG))
    for statement in (*SETTINGS, *MACROS):
        connection.execute(statement)
    functions.setup(connection)
    connection.execute("SET GLOBAL lock_configuration = true")
    return connection


def configure_cursor(cursor: duckdb.DuckDBPyConnection) -> None:
    """A cursor inherits the database's global settings; nothing is left to set (and the configuration is locked)."""


def parse(sql: str) -> exp.Expression:
    """Parse Athena SQL, failing the query as Athena does on a syntax error ('line L:C: ...') or on a function Athena
    does not have (FUNCTION_NOT_FOUND, see sandbox.py)."""
    try:
        tree = sqlglot.parse_one(sql, read=Athena)
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
    _type_decimals(sql, tree)
    return tree


def _type_decimals(sql: str, tree: exp.Expression) -> None:
    """DECIMAL '1.50' is DECIMAL(3,2) and a bare DECIMAL is DECIMAL(38,0) in Trino; sqlglot parses both as DECIMAL.

    https://trino.io/docs/current/language/types.html#decimal
    """
    tokens = Athena().tokenize(sql)
    literals = {
        string.start
        for keyword, string in itertools.pairwise(tokens)
        if keyword.token_type == TokenType.DECIMAL and string.token_type == TokenType.STRING
    }
    for node in tree.find_all(exp.DataType):
        if node.this != exp.DataType.Type.DECIMAL or node.expressions:
            continue
        parent = node.parent
        value = parent.this if isinstance(parent, exp.Cast) else None
        params = (38, 0)
        if isinstance(value, exp.Literal) and value.is_string and value.meta.get("start") in literals:
            params = trino_types.literal_decimal(value.this)
            if params is None or params[0] > trino_types.MAX_PRECISION:
                raise QueryFailed(f"INVALID_LITERAL: line 1:1: '{value.this}' is not a valid decimal literal")
        node.replace(trino_types.decimal_type(*params))


def to_duckdb(tree: exp.Expression, schema: dict[str, dict[str, str]] | None = None) -> str:
    """DuckDB SQL for a parsed Trino statement; `schema` ({table: {column: Trino type}}) types its columns, so that
    decimal and date rules apply to table data too."""
    typed = tree.copy()
    if schema:
        try:
            typed = qualify(
                typed, schema=schema, dialect="trino", validate_qualify_columns=False, quote_identifiers=False
            )
        except SqlglotError as error:  # typing columns is best effort: literals and casts are typed anyway
            log.debug("columns left untyped (%s)", error)
            typed = tree.copy()
        if any(not column.table and not _output_name(column) for column in typed.find_all(exp.Column)):
            typed = tree.copy()  # a column it could not place (a missing one): DuckDB reports it as it is
    typed = trino_types.annotate(typed, schema)
    trino_zones.annotate(typed)
    _name_row_fields(typed)
    fixed = timezones.zoned_outputs(functions.translate(typed))
    return fixed.sql(dialect="duckdb")


def _output_name(column: exp.Column) -> bool:
    """ORDER BY x where x names one of its SELECT's output columns: qualify leaves it unplaced, and rightly so; the
    tree keeps its column types (dropping them would answer m['missing'] with DuckDB's NULL, not Trino's error)."""
    order = column.find_ancestor(exp.Order)
    select = order.parent if order is not None else None
    if not isinstance(select, exp.Select) or column.table:
        return False
    return any(isinstance(e, exp.Alias) and e.alias == column.name for e in select.expressions)


def row_field(index: int) -> exp.Identifier:
    """Athena's name for the field at `index` (0-based) of an anonymous ROW: {field0=Bob, field1=38}.
    https://docs.aws.amazon.com/athena/latest/ug/creating-row.html"""
    return exp.to_identifier(f"field{index}")


def _name_row_fields(tree: exp.Expression) -> None:
    """ROW(1, 2) and ROW(DOUBLE, BIGINT) have anonymous fields in Trino; DuckDB names every struct field (and
    cannot cast to an unnamed STRUCT type), so both get Athena's names, field0, field1, ..."""
    for node in list(tree.find_all(exp.Struct)):
        if node.expressions and not any(
            isinstance(e, (exp.PropertyEQ, exp.Alias, exp.Slice)) for e in node.expressions
        ):
            named = [exp.PropertyEQ(this=row_field(i), expression=e) for i, e in enumerate(node.expressions)]
            node.set("expressions", named)
            node.meta["anonymous_row"] = True
    for node in list(tree.find_all(exp.DataType)):
        anonymous = node.expressions and all(isinstance(e, exp.DataType) for e in node.expressions)
        if node.this == exp.DataType.Type.STRUCT and anonymous:
            fields = [exp.ColumnDef(this=row_field(i), kind=e) for i, e in enumerate(node.expressions)]
            node.set("expressions", fields)
            node.meta["anonymous_row"] = True
