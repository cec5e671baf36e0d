"""Drift repair: lets pyarrow's C++ converter take parsed records whose drift this file has already shown.

pyarrow refuses a block whose field mixes kinds, so drifty input used to take the slow exact path block after block.
The exact path reports what drifted; later blocks of the same file are then repaired in place, exactly as the
exact path would have typed them, and converted by `pa.array`:
- `text`: a leaf that mixes kinds (1, "1", true) -> each non-object value becomes its JSON text (the column is string);
- `elements`: an array that mixes element kinds -> each element becomes its JSON text (array<string>);
- `split`: a key that is an object in some records and a scalar in others -> the scalar moves to a marked sibling key,
  which `unmark` turns back into the scalar's own column after flattening.
Anything still refused goes to the exact path, which learns more repairs. The output is the same either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline import coltypes
from pipeline.flatten import BlockTable, BlockTables, Path, TableKey, is_object_array

SCALAR_MARK = "\x00scalar:"  # JSON keys cannot be told from it by accident: NUL is escaped in any real key we keep


@dataclass
class Repairs:
    text: set[tuple[TableKey, Path]] = field(default_factory=set)
    elements: set[tuple[TableKey, Path]] = field(default_factory=set)
    split: set[tuple[TableKey, Path]] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.text or self.elements or self.split)

    def learn(self, tables: BlockTables) -> None:
        """Records what the exact path found drifting in a block."""
        for key, table in tables.items():
            for path in table.mixed:
                kind = coltypes.hive_type_of_arrow(table.columns[path].type)
                (self.elements if kind == coltypes.array_of(coltypes.STRING) else self.text).add((key, path))
            paths = set(table.columns)
            for path in paths:
                if any(len(other) > len(path) and other[: len(path)] == path for other in paths):
                    self.split.add((key, path))

    def apply(self, records: list[dict[str, Any]]) -> None:
        """Rewrites the records in place (values that drift become what the exact path makes of them)."""
        # one pass per repaired path over the objects that hold its leaf, level by level: no per-value generators
        holders = _Holders(records)
        for key, path in self.text:
            leaf = path[-1]
            for parent in holders.of(key, path[:-1]):
                value = parent.get(leaf)
                if value is None:
                    continue
                kind = type(value)
                if kind is str or kind is dict or (kind is list and is_object_array(value)):
                    continue  # strings stay; objects and arrays of objects still flatten as they would
                parent[leaf] = str(value) if kind is int else coltypes.json_text(value)
        for key, path in self.elements:
            leaf = path[-1]
            for parent in holders.of(key, path[:-1]):
                value = parent.get(leaf)
                if type(value) is list and not is_object_array(value):
                    parent[leaf] = [None if item is None else coltypes.json_text(item) for item in value]
        for key, path in self.split:
            leaf = path[-1]
            for parent in holders.of(key, path[:-1]):
                if leaf in parent and type(parent[leaf]) is not dict:
                    parent[SCALAR_MARK + leaf] = parent.pop(leaf)


class _Holders:
    """The objects at a path below the rows of a table `key` (a chain of array paths from the root), cached."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.cache: dict[tuple[TableKey, Path], list[dict[str, Any]]] = {((), ()): records}

    def of(self, key: TableKey, path: Path) -> list[dict[str, Any]]:
        found = self.cache.get((key, path))
        if found is None:
            if path:
                found = [child for node in self.of(key, path[:-1]) if type(child := node.get(path[-1])) is dict]
            else:  # a child table's rows: the objects of its arrays of objects (a mixed array is one text value)
                arrays = self.of(key[:-1], key[-1][:-1])
                leaf = key[-1][-1]
                found = [
                    item
                    for node in arrays
                    if type(value := node.get(leaf)) is list and is_object_array(value)
                    for item in value
                    if type(item) is dict
                ]
            self.cache[(key, path)] = found
        return found


def unmark(tables: BlockTables) -> BlockTables:
    """Gives split-off scalars their own path back: (..., SCALAR_MARK + "address") -> (..., "address")."""
    result: BlockTables = {}
    for key, table in tables.items():
        key = tuple(_unmark_path(path) for path in key)
        if any(SCALAR_MARK in step for path in table.columns for step in path):
            table = BlockTable(
                rows=table.rows,
                columns={_unmark_path(path): array for path, array in table.columns.items()},
                parent_index=table.parent_index,
                position=table.position,
                mixed={_unmark_path(path) for path in table.mixed},
            )
        result[key] = table
    return result


def _unmark_path(path: Path) -> Path:
    return tuple(step.removeprefix(SCALAR_MARK) for step in path)
