"""Names as Athena accepts them: `name`, `db.name`, `catalog.db.name`, each part bare, "double-quoted" or `backticked`.

Athena's DDL (Hive) quotes with backticks, its DML (Trino) with double quotes, and clients send either, also in
QueryExecutionContext (awswrangler sends Database='`db`'). Glue stores every name lower case.
https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html
"""

from __future__ import annotations

import re

from localaws.athena.errors import QueryFailed

DATA_CATALOG_NAME = "awsdatacatalog"
IDENTIFIER = r'(?:"[^"]*"|`[^`]*`|[\w$-]+)'
# One regex group: a name of one to three dotted parts.
QUALIFIED = rf"({IDENTIFIER}(?:\s*\.\s*{IDENTIFIER}){{0,2}})"


def unquote(part: str) -> str:
    """`db`, "db" or db -> db (lower case, as Glue stores it)."""
    part = part.strip()
    if len(part) >= 2 and part[0] == part[-1] and part[0] in '`"':
        part = part[1:-1]
    return part.lower()


def parts(text: str) -> list[str]:
    """The dotted parts of a qualified name, unquoted; dots inside quotes stay in their part."""
    return [unquote(p) for p in re.findall(rf"{IDENTIFIER}", text)]


def split(text: str, default_database: str) -> tuple[str, str]:
    """(database, name) of `name`, `db.name` or `catalog.db.name`; a catalog other than AwsDataCatalog fails the query
    as Athena does (CATALOG_NOT_FOUND)."""
    names = parts(text)
    if len(names) == 3:
        if names[0] != DATA_CATALOG_NAME:
            raise QueryFailed(f"CATALOG_NOT_FOUND: line 1:1: Catalog '{names[0]}' does not exist")
        names = names[1:]
    if len(names) == 2:
        return names[0], names[1]
    return default_database, names[0]


def database_name(text: str, default_database: str) -> str:
    """The database of `db` or `catalog.db` (SHOW TABLES IN ...)."""
    names = parts(text)
    if len(names) == 2 and names[0] != DATA_CATALOG_NAME:
        raise QueryFailed(f"CATALOG_NOT_FOUND: line 1:1: Catalog '{names[0]}' does not exist")
    return names[-1] if names else default_database


def context_database(value: str) -> str:
    """QueryExecutionContext.Database as Athena reads it: quotes around the name are dropped."""
    return unquote(value) if value else value
