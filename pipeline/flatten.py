"""Flattening: records -> one table per dataset level, columns keyed by the field's path (a tuple of JSON keys).

- nested objects become paths: {"customer": {"address": {"city": ...}}} -> ("customer", "address", "city");
- arrays of objects (nulls allowed among them) become a child table keyed by the array's path, with each element's
  parent row and position;
- arrays of anything else stay one array column; empty objects add nothing (no leaf), empty arrays are empty
  array values;
- a key that holds an object in one record and a scalar in another yields both paths, so no leaf is dropped.

Two producers give the same `BlockTables`: `flatten_records` (pure Python, exact on any JSON) and `flatten_arrow`
(from a pyarrow.json table, the fast path). Column names are not decided here (see naming.py); child tables are
keyed by the chain of array paths from the root, () being the parent dataset.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline import coltypes

Path = tuple[str, ...]
TableKey = tuple[Path, ...]


@dataclass
class BlockTable:
    """One dataset level of one block: typed columns by path, and for child levels the link to the parent row."""

    rows: int = 0
    columns: dict[Path, pa.Array] = field(default_factory=dict)
    parent_index: pa.Array | None = None  # row of the parent table (within this block) each row belongs to
    position: pa.Array | None = None  # index of the element in its parent's array
    mixed: set[Path] = field(default_factory=set)  # exact path only: columns whose values mix kinds (see repair.py)


BlockTables = dict[TableKey, BlockTable]


class _Node:
    """One field path of a collector: nested keys hang below it, its values (if it is a leaf) are in `values`."""

    __slots__ = ("path", "sub", "values")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sub: dict[str, _Node] = {}
        self.values: list[Any] | None = None


class _Collector:
    __slots__ = ("columns", "parent_index", "position", "root", "rows")

    def __init__(self) -> None:
        self.rows = 0
        self.root = _Node(())
        self.columns: dict[Path, list[Any]] = {}  # in order of first appearance
        self.parent_index: list[int] = []
        self.position: list[int] = []


def flatten_records(records: Iterable[dict[str, Any]]) -> BlockTables:
    """The exact path: any JSON records -> typed block tables."""
    collectors: dict[TableKey, _Collector] = {(): _Collector()}
    root = collectors[()]
    for record in records:
        row = root.rows
        root.rows += 1
        _flatten_object(record, root.root, row, root, (), collectors)
    tables: BlockTables = {}
    for key, collector in collectors.items():
        table = BlockTable(rows=collector.rows)
        for path, values in collector.columns.items():
            if len(values) < collector.rows:
                values.extend([None] * (collector.rows - len(values)))
            kind = coltypes.infer_type(values)
            table.columns[path] = coltypes.to_arrow(values, kind)
            if coltypes.is_mixed(values, kind):
                table.mixed.add(path)
        if key:
            table.parent_index = pa.array(collector.parent_index, pa.int64())
            table.position = pa.array(collector.position, pa.int64())
        tables[key] = table
    return tables


def _flatten_object(
    obj: dict[str, Any],
    node: _Node,
    row: int,
    collector: _Collector,
    key: TableKey,
    collectors: dict[TableKey, _Collector],
) -> None:
    # the hot loop of the exact path: nodes cache each path, so no tuple is built or hashed per value
    sub = node.sub
    for name, value in obj.items():
        child = sub.get(name)
        if child is None:
            child = sub[name] = _Node((*node.path, name))
        kind = type(value)
        if kind is dict:
            _flatten_object(value, child, row, collector, key, collectors)
            continue
        if kind is list and value and is_object_array(value):
            child_key = (*key, child.path)
            table = collectors.get(child_key)
            if table is None:
                table = collectors[child_key] = _Collector()
            for position, element in enumerate(value):
                child_row = table.rows
                table.rows += 1
                table.parent_index.append(row)
                table.position.append(position)
                if element:
                    _flatten_object(element, table.root, child_row, table, child_key, collectors)
            continue
        column = child.values
        if column is None:
            column = child.values = collector.columns[child.path] = [None] * row
        elif len(column) < row:
            column.extend([None] * (row - len(column)))
        column.append(value)


def is_object_array(values: list[Any]) -> bool:
    has_object = False
    for value in values:
        if type(value) is dict:
            has_object = True
        elif value is not None:
            return False
    return has_object


class FastPathDeclined(ValueError):
    """The Arrow table holds something only the exact path types faithfully (e.g. an int beyond int64)."""


def flatten_arrow(table: pa.Table) -> BlockTables:
    """The fast path: a pyarrow.json table -> the same block tables flatten_records would give."""
    tables: BlockTables = {}
    root = BlockTable(rows=table.num_rows)
    tables[()] = root
    for name, column in zip(table.column_names, table.columns, strict=True):
        # combine_chunks copies even a single chunk, which is what a block read whole gives
        array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        _flatten_arrow_field((name,), array, root, (), tables)
    return tables


def _flatten_arrow_field(path: Path, array: pa.Array, table: BlockTable, key: TableKey, tables: BlockTables) -> None:
    arrow = array.type
    if pa.types.is_struct(arrow):
        for index, child in enumerate(array.flatten()):
            _flatten_arrow_field((*path, arrow.field(index).name), child, table, key, tables)
        return
    if pa.types.is_list(arrow) and pa.types.is_struct(arrow.value_type):
        _add_child_table(path, array, key, tables)
        return
    hive = coltypes.hive_type_of_arrow(arrow)
    if hive is None:
        if pa.types.is_list(arrow):  # nested arrays: JSON text per element, as the exact path does
            values = array.to_pylist()
            table.columns[path] = coltypes.to_arrow(values, coltypes.array_of(coltypes.STRING))
            return
        raise FastPathDeclined(f"unexpected Arrow type {arrow} at {path}")
    if hive == coltypes.DOUBLE and _holds_huge_number(array):
        raise FastPathDeclined(f"a number beyond int64 at {path}")
    if coltypes.element_of(hive) == coltypes.DOUBLE and _holds_huge_number(array.flatten()):
        raise FastPathDeclined(f"a number beyond int64 in array at {path}")
    if hive == coltypes.array_of(coltypes.STRING) and pa.types.is_null(arrow.value_type):
        array = array.cast(pa.list_(pa.string()))
    table.columns[path] = array


def _holds_huge_number(array: pa.Array) -> bool:
    values = array.to_numpy(zero_copy_only=False)
    finite = values[~np.isnan(values)]
    return bool(finite.size) and float(np.abs(finite).max()) >= 2.0**63


def _add_child_table(path: Path, array: pa.ListArray, key: TableKey, tables: BlockTables) -> None:
    child_key = (*key, path)
    offsets = array.offsets.to_numpy()
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    lengths = np.diff(offsets) * valid  # a null list has no elements
    starts = offsets[:-1]
    parent_index = np.repeat(np.arange(len(array), dtype=np.int64), lengths)
    position = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    elements = array.flatten()  # skips null lists, keeps null elements
    del starts
    child = BlockTable(rows=len(elements), parent_index=pa.array(parent_index), position=pa.array(position, pa.int64()))
    tables[child_key] = child
    for index, column in enumerate(elements.flatten()):
        _flatten_arrow_field((elements.type.field(index).name,), column, child, child_key, tables)
