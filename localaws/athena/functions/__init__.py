"""Trino functions on DuckDB: a registry of translators, one module per family of Trino's function reference.

https://trino.io/docs/current/functions.html. Each family module registers, with `translator`, a function that takes
a node of the parsed (and type-annotated, see trino_types) Trino tree and returns the DuckDB tree for it, keyed by the
sqlglot expression class or, for functions sqlglot does not know (exp.Anonymous), by lower-case name. Where DuckDB
has no equivalent, a module adds a macro (`MACROS`) or a Python scalar function (`udf`) created on each connection.
`translate` runs translators bottom-up, so a translator sees its arguments already translated (with their Trino
types kept in `.type`).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable

import duckdb
import sqlglot
from sqlglot import exp

from localaws.athena.errors import QueryFailed
from localaws.athena.trino_zones import ZONE

Translator = Callable[[exp.Expression], exp.Expression | None]
TRANSLATORS: dict[object, Translator] = {}
# Run before the translators, in order; the first that answers a replacement translates the node (timezones.py).
REWRITERS: list[Translator] = []
MACROS: list[str] = []
UDFS: list[tuple[str, Callable, list, object]] = []


def translator(*keys: type[exp.Expression] | str) -> Callable[[Translator], Translator]:
    def register(function: Translator) -> Translator:
        for key in keys:
            TRANSLATORS[key.lower() if isinstance(key, str) else key] = function
        return function

    return register


def udf(
    name: str, parameters: list, return_type, calls: tuple = (), takes_null: bool = False
) -> Callable[[Callable], Callable]:
    """A Python scalar function `name` on every connection: NULL in -> NULL out, unless `takes_null`; it may answer
    None (NULL). `calls` are the Trino functions (names, or sqlglot classes whose arguments come in the same order)
    that translate to a call of it."""

    def register(function: Callable) -> Callable:
        @functools.wraps(function)  # DuckDB counts the parameters of the signature
        def null_in_null_out(*arguments):
            return None if any(a is None for a in arguments) else function(*arguments)

        UDFS.append((name, function if takes_null else null_in_null_out, parameters, return_type))
        for key in calls:
            translator(key)(lambda node: call(name, *_arguments(node)))
        return function

    return register


def _arguments(node: exp.Expression) -> list[exp.Expression]:
    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    values = [v for v in node.args.values() if isinstance(v, exp.Expression)]
    return values + [e for e in node.expressions if e not in values]


def call(name: str, *arguments: exp.Expression) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(arguments))


def cast(node: exp.Expression, to: str | exp.DataType) -> exp.Cast:
    return exp.Cast(this=node, to=exp.DataType.build(to) if isinstance(to, str) else to.copy())


@functools.cache
def _parsed(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="duckdb")


def template(sql: str, **arguments: exp.Expression) -> exp.Expression:
    """DuckDB SQL with :name placeholders filled by (copies of) the given nodes."""
    values = {name: node.copy() for name, node in arguments.items()}
    return exp.replace_placeholders(_parsed(sql).copy(), **values)


def not_supported(message: str) -> QueryFailed:
    return QueryFailed(f"NOT_SUPPORTED: {message}")


def key_of(node: exp.Expression) -> object:
    return node.name.lower() if isinstance(node, exp.Anonymous) else type(node)


def translate(tree: exp.Expression) -> exp.Expression:
    """The tree with every registered node replaced by its translation, innermost first."""
    root = tree
    for node in reversed(list(tree.walk())):
        replacement = next((r for r in map(lambda rewriter: rewriter(node), REWRITERS) if r is not None), None)
        function = TRANSLATORS.get(key_of(node))
        if replacement is None and function is not None:
            replacement = function(node)
        if replacement is None or replacement is node:
            continue
        if node.type is not None and replacement.type is None:
            replacement.type = node.type
        if ZONE in node.meta:
            replacement.meta[ZONE] = node.meta[ZONE]  # the value's time zone (trino_zones)
        if node is root:
            root = replacement
        else:
            node.replace(replacement)
    return root


def setup(connection: duckdb.DuckDBPyConnection) -> None:
    for statement in MACROS:
        connection.execute(statement)
    for name, function, parameters, return_type in UDFS:
        connection.create_function(name, function, parameters, return_type, null_handling="special")


# Each family module registers its translators and functions when imported.
FAMILIES = (
    "arrays", "casts", "datetime", "decimal", "formatting", "json", "maps", "math", "regexp", "strings",
    "timezones", "url",
)  # fmt: skip
for _family in FAMILIES:
    importlib.import_module(f"{__name__}.{_family}")
