"""Parameterized queries: ExecutionParameters, PREPARE / EXECUTE / DEALLOCATE PREPARE and the prepared-statement API.

https://docs.aws.amazon.com/athena/latest/ug/querying-with-prepared-statements.html: each `?` in the query takes the
next value, in order; a value is SQL as written (a string in single quotes: "'paid'", a number: "10"), so a value is
a literal, never a piece of syntax. The count must match (Trino: "Incorrect number of parameters"). Prepared
statements belong to a workgroup: https://docs.aws.amazon.com/athena/latest/APIReference/API_CreatePreparedStatement.html
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.dialects.trino import Trino
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from localaws.athena.errors import QueryFailed
from localaws.athena.results import ResultSet

NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_@:]{0,255}")
PREPARE = re.compile(r"PREPARE\s+(\w+)\s+FROM\s+(.+)$", re.I | re.S)
EXECUTE = re.compile(r"EXECUTE\s+(\w+)(?:\s+USING\s+(.+))?$", re.I | re.S)
DEALLOCATE = re.compile(r"DEALLOCATE\s+PREPARE\s+(\w+)$", re.I | re.S)


@dataclass
class PreparedStatement:
    name: str
    work_group: str
    query: str
    description: str = ""
    modified: float = field(default_factory=time.time)

    def shape(self) -> dict:
        shape = {
            "StatementName": self.name,
            "QueryStatement": self.query,
            "WorkGroupName": self.work_group,
            "LastModifiedTime": self.modified,
        }
        if self.description:
            shape["Description"] = self.description
        return shape


class PreparedStatements:
    """Every prepared statement, by (region, workgroup, name)."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str, str], PreparedStatement] = {}
        self._lock = threading.Lock()

    def get(self, region: str, work_group: str, name: str) -> PreparedStatement | None:
        with self._lock:
            return self._items.get((region, work_group, name))

    def put(self, region: str, statement: PreparedStatement) -> None:
        with self._lock:
            self._items[(region, statement.work_group, statement.name)] = statement

    def delete(self, region: str, work_group: str, name: str) -> bool:
        with self._lock:
            return self._items.pop((region, work_group, name), None) is not None

    def list(self, region: str, work_group: str) -> list[PreparedStatement]:
        with self._lock:
            found = [s for (r, w, _), s in self._items.items() if r == region and w == work_group]
        return sorted(found, key=lambda s: s.name)

    def forget_work_group(self, region: str, work_group: str) -> None:
        with self._lock:
            for key in [k for k in self._items if k[0] == region and k[1] == work_group]:
                del self._items[key]


def _placeholders(sql: str) -> list[tuple[int, int]]:
    """(start, end) of each `?` parameter in `sql`, outside strings, quoted names and comments."""
    try:
        tokens = Trino.Tokenizer().tokenize(sql)
    except TokenError as error:
        raise QueryFailed(f"line 1:1: {error}", error_type=1005) from None
    return [(t.start, t.end + 1) for t in tokens if t.token_type == TokenType.PLACEHOLDER and t.text == "?"]


def _literal(value: str) -> str:
    """A parameter value must be one constant expression (a literal, a signed number, a typed literal)."""

    try:
        node = sqlglot.parse_one(value, read="trino")
    except (ParseError, TokenError):
        node = None
    if node is None or isinstance(node, exp.Query) or list(node.find_all(exp.Column, exp.Subquery, exp.Star)):
        raise QueryFailed(f"INVALID_PARAMETER_USAGE: line 1:1: Invalid parameter value: {value}")
    return value.strip()


def substitute(sql: str, values: list[str]) -> str:
    """`sql` with its `?` parameters replaced, in order, by `values`; fails as Trino does when the counts differ."""
    spots = _placeholders(sql)
    if len(spots) != len(values):
        raise QueryFailed(
            f"INVALID_PARAMETER_USAGE: line 1:1: Incorrect number of parameters: expected {len(spots)} "
            f"but found {len(values)}"
        )
    text = sql
    for (start, end), value in reversed(list(zip(spots, values, strict=True))):
        text = f"{text[:start]}({_literal(value)}){text[end:]}"
    return text


def _split_values(text: str) -> list[str]:
    """The comma-separated values of EXECUTE ... USING, commas inside strings or parentheses kept."""
    values, depth, quote, current = [], 0, "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            values.append(current)
            current = ""
            continue
        current += char
    if current.strip():
        values.append(current)
    return [v.strip() for v in values]


def expand(
    sql: str, parameters: list[str], store: PreparedStatements, region: str, work_group: str
) -> tuple[str | None, ResultSet | None]:
    """The query to run for `sql` (EXECUTE and ExecutionParameters resolved), or the result of PREPARE/DEALLOCATE."""
    text = sql.strip().rstrip(";").strip()
    prepare = PREPARE.match(text)
    if prepare:
        name = prepare.group(1)
        _placeholders(prepare.group(2))
        store.put(region, PreparedStatement(name, work_group, prepare.group(2).strip()))
        return None, ResultSet.text("result", [])
    deallocate = DEALLOCATE.match(text)
    if deallocate:
        if not store.delete(region, work_group, deallocate.group(1)):
            raise QueryFailed(f"NOT_FOUND: line 1:1: Prepared statement not found: {deallocate.group(1)}")
        return None, ResultSet.text("result", [])
    execute = EXECUTE.match(text)
    if execute:
        statement = store.get(region, work_group, execute.group(1))
        if statement is None:
            raise QueryFailed(f"NOT_FOUND: line 1:1: Prepared statement not found: {execute.group(1)}")
        using = _split_values(execute.group(2)) if execute.group(2) else []
        if using and parameters:
            raise QueryFailed("INVALID_PARAMETER_USAGE: line 1:1: Give parameters with USING or ExecutionParameters")
        return substitute(statement.query, using or parameters), None
    if parameters or ("?" in text and _placeholders(text)):
        return substitute(sql, parameters), None
    return sql, None
