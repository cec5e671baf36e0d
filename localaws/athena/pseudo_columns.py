"""Athena's hidden columns of a Hive table: `"$path"`, `"$file_size"` and `"$file_modified_time"` of each row's file.

https://docs.aws.amazon.com/athena/latest/ug/select.html#select-path: `"$path"` is the `s3://bucket/key` of the file a
row came from; Trino's Hive connector adds `"$file_size"` (bigint, bytes) and `"$file_modified_time"` (timestamp(3)
with time zone). They are not part of `SELECT *`; a query names them, double-quoted.

localaws carries them only for a query that names one: each file's fragment gets them as constants (as a partition's
values are carried), and every `*` over such a table becomes `* EXCLUDE (...)` so they stay hidden.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

if TYPE_CHECKING:
    from localaws.athena.cost import DataFile

TYPES = {
    "$path": pa.string(),
    "$file_size": pa.int64(),
    "$file_modified_time": pa.timestamp("ms", tz="UTC"),
}


def named(tree: exp.Expression) -> bool:
    """Whether the query names any pseudo-column."""
    return any(column.name.lower() in TYPES for column in tree.find_all(exp.Column))


def fields() -> list[pa.Field]:
    return [pa.field(name, dtype) for name, dtype in TYPES.items()]


def values(file: DataFile) -> dict[str, object]:
    return {"$path": f"s3://{file.path}", "$file_size": file.size, "$file_modified_time": file.modified}


def expression(file: DataFile, term: pc.Expression | None = None) -> pc.Expression | None:
    """`term` (the partition's values) and the file's constants: `"$path" = 's3://...' AND "$file_size" = n ...`."""
    for name, value in values(file).items():
        if value is None:
            continue
        equal = pc.field(name) == pa.scalar(value, TYPES[name])
        term = equal if term is None else term & equal
    return term


def hide_from_stars(tree: exp.Expression, tables: set[str]) -> None:
    """`*` and `t.*` over a table in `tables` (the registered names) leave the pseudo-columns out."""
    excluded = [exp.column(name, quoted=True) for name in TYPES]
    for select in tree.find_all(exp.Select):
        sources = {}
        for source in [select.args.get("from_") or select.args.get("from"), *(select.args.get("joins") or [])]:
            node = source.this if source is not None else None
            if isinstance(node, exp.Table) and node.name in tables:
                sources[(node.alias_or_name or node.name).lower()] = node
        if not sources:
            continue
        for projection in select.expressions:
            if isinstance(projection, exp.Star) and not projection.args.get("except_"):
                projection.set("except_", [e.copy() for e in excluded])
            elif (
                isinstance(projection, exp.Column)
                and isinstance(projection.this, exp.Star)
                and projection.table.lower() in sources
            ):
                projection.this.set("except_", [e.copy() for e in excluded])
