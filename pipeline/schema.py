"""Drift across files: a per-dataset schema record is the source of truth for the table's columns.

`merge_schema` (pure) folds one file's column types into the record:
1. a recorded column's type never changes;
2. a file column that casts losslessly to its recorded type is cast (bigint into double or decimal, anything into
   string as JSON text, an all-null column into anything);
3. otherwise its values go to the variant column `<column>__<type>` (e.g. price__string), created on first need;
4. new paths are appended as new columns, new arrays of objects as new child datasets.
Every file is then written with every recorded column (absent ones as typed nulls), so all files of a dataset share
one Parquet schema and Athena never sees a type mismatch.

Stores: `MemorySchemaStore` (one-off runs), `DirectorySchemaStore` (the CLI). The Lambda's S3 store lives in
lambda_transform.py; all three implement load/save with an optimistic token and raise SchemaConflict on a lost race.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any, Protocol

from pipeline import coltypes, config, naming
from pipeline.coltypes import BIGINT, DECIMAL, DOUBLE, NULL, STRING

Path = tuple[str, ...]
RECORD_FORMAT = 1
PARENT_SYSTEM_COLUMNS = (("_record_id", STRING), ("_source_key", STRING))
CHILD_SYSTEM_COLUMNS = (("_record_id", STRING), ("_parent_record_id", STRING), ("_position", BIGINT))
# names a data field never gets, at any level: the partition key and every column the pipeline adds
RESERVED_COLUMNS = frozenset(
    {naming.PARTITION_KEY} | {name for name, _kind in (*PARENT_SYSTEM_COLUMNS, *CHILD_SYSTEM_COLUMNS)}
)


@dataclass(frozen=True)
class FileColumn:
    """What one file says about a path: its within-file type and, for bigint, its largest magnitude."""

    type: str
    max_abs_int: int = 0
    empty_arrays_only: bool = False  # every value was [] or null: nothing to keep where the path is a child dataset


@dataclass
class MergeResult:
    record: dict[str, Any]
    plan: dict[Path, tuple[str, str]]  # path -> (column name, column type) this file's values go to
    child_datasets: dict[Path, str]  # array path -> child dataset name
    changed: bool

    @property
    def columns(self) -> list[tuple[str, str]]:
        return [(column["name"], column["type"]) for column in self.record["columns"]]


def new_record(dataset: str, system_columns: Sequence[tuple[str, str]], folder: str | None = None) -> dict[str, Any]:
    """An empty record; a top-level dataset's record names the raw/ folder that owns the name (`claim_dataset`)."""
    record = {
        "format": RECORD_FORMAT,
        "dataset": dataset,
        "columns": [{"name": name, "type": kind, "path": None, "system": True} for name, kind in system_columns],
        "children": [],
    }
    if folder is not None:
        record["folder"] = folder
    return record


def castable(column: FileColumn, target: str) -> bool:
    """Can every value of this file column be stored in a column of type `target` without loss?"""
    source = column.type
    if source in (target, NULL) or target == STRING:
        return True
    if source == BIGINT and target == DOUBLE:
        return column.max_abs_int <= coltypes.DOUBLE_EXACT_INT
    if source == BIGINT and target == DECIMAL:
        return True
    return coltypes.element_of(source) is not None and target == coltypes.array_of(STRING)


def merge_schema(
    record: dict[str, Any] | None,
    dataset: str,
    file_columns: dict[Path, FileColumn],
    child_paths: Sequence[Path] = (),
    system_columns: Sequence[tuple[str, str]] = PARENT_SYSTEM_COLUMNS,
) -> MergeResult:
    """Folds one file's columns into the dataset's record (see the module docstring); never mutates `record`."""
    merged = copy.deepcopy(record) if record else new_record(dataset, system_columns)
    columns: list[dict[str, Any]] = merged["columns"]
    taken = {column["name"] for column in columns} | RESERVED_COLUMNS
    by_path: dict[Path, list[dict[str, Any]]] = {}
    for column in columns:
        if column["path"] is not None:
            by_path.setdefault(tuple(column["path"]), []).append(column)
    children = {tuple(child["path"]): child["dataset"] for child in merged["children"]}
    changed = record is None

    def append(entry: dict[str, Any]) -> dict[str, Any]:
        nonlocal changed
        columns.append(entry)
        taken.add(entry["name"])
        by_path.setdefault(tuple(entry["path"]), []).append(entry)
        changed = True
        return entry

    known_paths = set(by_path) | set(file_columns) | set(children) | set(child_paths)
    all_child_paths = set(children) | set(child_paths)
    kept = {
        path: column
        for path, column in file_columns.items()
        if not (column.empty_arrays_only and path in all_child_paths)  # `"items": []` beside item objects: no rows
        and not (path not in by_path and column.type == NULL and _is_prefix_of_any(path, known_paths))
    }  # the second rule: `"customer": null` where customer is elsewhere an object adds no column
    # new names are decided in a canonical order (not the order a parser met the keys), so colliding paths get the
    # same names whichever path (fast or exact, pyarrow version) parsed the file
    new_names: dict[Path, str] = {}
    for path in sorted((p for p in kept if p not in by_path), key=lambda p: (naming.base_name(p), list(p))):
        new_names[path] = naming.unique_name(naming.base_name(path), path, taken | set(new_names.values()))
    plan: dict[Path, tuple[str, str]] = {}
    for path, column in kept.items():
        entries = by_path.get(path)
        if not entries:
            name = new_names[path]
            kind = STRING if column.type == NULL else column.type
            entry = {"name": name, "type": kind, "path": list(path)}
            wanted = naming.base_name(path)
            if name != wanted:  # the mapping stays readable in the record: which name the field wanted, and why
                entry["renamed_from"] = wanted
                entry["rename_reason"] = _rename_reason(wanted)
            entries = [append(entry)]
        primary = entries[0]
        if castable(column, primary["type"]):
            plan[path] = (primary["name"], primary["type"])
            continue
        variants = entries[1:]
        variant = next((entry for entry in variants if entry["type"] == column.type), None) or next(
            (entry for entry in variants if castable(column, entry["type"])), None
        )
        if variant is None:
            wanted = f"{primary['name']}__{naming.type_slug(column.type)}"
            name = naming.unique_name(wanted, path, taken | set(new_names.values()))
            variant = append({"name": name, "type": column.type, "path": list(path), "variant_of": primary["name"]})
        plan[path] = (variant["name"], variant["type"])

    child_names = set(children.values())
    child_datasets: dict[Path, str] = {}
    for path in sorted(child_paths, key=list):
        if path not in children:
            wanted = naming.child_dataset_name(dataset, path)
            name = naming.unique_name(wanted, path, child_names)
            merged["children"].append({"path": list(path), "dataset": name})
            children[path] = name
            child_names.add(name)
            changed = True
        child_datasets[path] = children[path]
    return MergeResult(record=merged, plan=plan, child_datasets=child_datasets, changed=changed)


def _rename_reason(wanted: str) -> str:
    if wanted == naming.PARTITION_KEY:
        return "partition key"
    if wanted in RESERVED_COLUMNS:
        return "pipeline column"
    return "another field has this name"


def _is_prefix_of_any(path: Path, paths: set[Path]) -> bool:
    return any(len(other) > len(path) and other[: len(path)] == path for other in paths)


class SchemaConflict(RuntimeError):
    """Someone else updated the schema record between our read and our write."""


class SchemaStore(Protocol):
    def load(self, dataset: str) -> tuple[dict[str, Any] | None, str | None]: ...

    def save(self, dataset: str, record: dict[str, Any], token: str | None) -> str | None:
        """Writes only if the stored record still has `token` (None: only if there is none); returns the new token
        (None if the store cannot tell it). Raises SchemaConflict otherwise."""
        ...


def record_bytes(record: dict[str, Any]) -> bytes:
    """The record as readable UTF-8 JSON. A name can hold a lone surrogate (a CLI path's undecodable byte, via
    surrogateescape; a `"\\ud800"` key): no UTF-8 can carry it, so it is written as the JSON escape `\\ud800`, which
    json.loads reads back as the same string (RFC 8259 section 7)."""
    return (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")


class MemorySchemaStore:
    """Records in a dict: a fresh one makes the file's own schema the table's schema."""

    def __init__(self) -> None:
        self.records: dict[str, bytes] = {}

    def load(self, dataset: str) -> tuple[dict[str, Any] | None, str | None]:
        raw = self.records.get(dataset)
        return (json.loads(raw), hashlib.md5(raw).hexdigest()) if raw else (None, None)

    def save(self, dataset: str, record: dict[str, Any], token: str | None) -> str:
        current = self.records.get(dataset)
        if (hashlib.md5(current).hexdigest() if current else None) != token:
            raise SchemaConflict(dataset)
        self.records[dataset] = raw = record_bytes(record)
        return hashlib.md5(raw).hexdigest()


class DirectorySchemaStore:
    """Records as `<root>/<dataset>.json` files (the CLI keeps them under OUT/schemas/)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = FsPath(root)

    def load(self, dataset: str) -> tuple[dict[str, Any] | None, str | None]:
        path = self.root / f"{dataset}.json"
        if not path.exists():
            return None, None
        raw = path.read_bytes()
        return json.loads(raw), hashlib.md5(raw).hexdigest()

    def save(self, dataset: str, record: dict[str, Any], token: str | None) -> str:
        _current, current_token = self.load(dataset)
        if current_token != token:
            raise SchemaConflict(dataset)
        self.root.mkdir(parents=True, exist_ok=True)
        temporary = self.root / f".{dataset}.json.tmp"
        raw = record_bytes(record)
        temporary.write_bytes(raw)
        os.replace(temporary, self.root / f"{dataset}.json")
        return hashlib.md5(raw).hexdigest()


class ReadOnceSchemaStore:
    """One event's view of a SchemaStore: each record is read from `store` at most once, then served from memory
    with its token, and so is every record this view wrote (with the token its write returned).

    The conditional writes are exactly the store's: a write names the token of the record its merge started from,
    and when it loses a race (SchemaConflict) the record is read again on the next load. Serving an earlier read is
    what a slightly earlier commit would have seen: recorded columns never change type, so a file written against
    it stays valid under every later record. Keep one per event (a warm Lambda's next event must read afresh)."""

    def __init__(self, store: SchemaStore) -> None:
        self.store = store
        self.known: dict[str, tuple[dict[str, Any] | None, str | None]] = {}

    def load(self, dataset: str) -> tuple[dict[str, Any] | None, str | None]:
        if dataset not in self.known:
            self.known[dataset] = self.store.load(dataset)
        return self.known[dataset]

    def save(self, dataset: str, record: dict[str, Any], token: str | None) -> str | None:
        self.known.pop(dataset, None)  # whatever happens below, the next load reads afresh unless the write is known
        new_token = self.store.save(dataset, record, token)
        if new_token is not None:
            # the record as a load would give it back (JSON text, read again), not the caller's object
            self.known[dataset] = (json.loads(record_bytes(record)), new_token)
        return new_token


def commit_schema(
    store: SchemaStore, dataset: str, merge: Callable[[dict[str, Any] | None], MergeResult]
) -> MergeResult:
    """Read, merge and conditionally write the record, re-merging on a lost race."""
    for _attempt in range(config.SCHEMA_WRITE_ATTEMPTS):
        record, token = store.load(dataset)
        result = merge(record)
        if not result.changed:
            return result
        try:
            store.save(dataset, result.record, token)
        except SchemaConflict:
            continue
        return result
    raise SchemaConflict(f"schema record of {dataset!r} kept changing; gave up after retries")


def claim_dataset(store: SchemaStore, folder: str, plain: str | None = None) -> tuple[str, str | None]:
    """(the top-level dataset a raw/ folder writes to, the other folder holding its plain name or None).

    Folders whose names fold to the same dataset (`My-Data`, `my_data`, `MY DATA` -> my_data) must not mix their rows.
    The first folder to create the dataset's schema record (a conditional write, so exactly one wins a race) owns the
    plain name, recorded as the record's "folder"; every other folder takes the first of `naming.dataset_candidates`
    it can own (my_data_<8 hex of the folder's SHA-1>). So a folder keeps its dataset forever. A record without
    "folder" (written before claims existed) is shared by every folder that maps to it.
    Raises SchemaConflict when the store keeps changing under us (transient, as in commit_schema).
    """
    holder: str | None = None
    for candidate in naming.dataset_candidates(folder, plain):
        for _attempt in range(config.SCHEMA_WRITE_ATTEMPTS):
            record, _token = store.load(candidate)
            if record is None:
                try:
                    store.save(candidate, new_record(candidate, PARENT_SYSTEM_COLUMNS, folder), None)
                except SchemaConflict:
                    continue  # someone created it meanwhile: look again at whose it is
                return candidate, holder
            owner = record.get("folder", folder)
            if owner == folder:
                return candidate, holder
            holder = owner if holder is None else holder
            break  # another folder's dataset: try the next name
        else:
            raise SchemaConflict(f"schema record of {candidate!r} kept changing; gave up after retries")
    raise SchemaConflict(f"every dataset name for folder {folder!r} is held by another folder")


@dataclass
class FileSchema:
    """Within-file column types of one dataset level, unified across its blocks."""

    columns: dict[Path, FileColumn] = field(default_factory=dict)
    child_paths: list[Path] = field(default_factory=list)

    def add(self, path: Path, hive_type: str, max_abs_int: int = 0, empty_arrays_only: bool = False) -> None:
        old = self.columns.get(path)
        if old is None:
            self.columns[path] = FileColumn(hive_type, max_abs_int, empty_arrays_only)
        else:
            # a block of only [] or null says nothing about the element type: it must not widen another block's
            both_arrays = coltypes.element_of(old.type) is not None and coltypes.element_of(hive_type) is not None
            if both_arrays and old.empty_arrays_only and not empty_arrays_only:
                kind = hive_type
            elif both_arrays and empty_arrays_only and not old.empty_arrays_only:
                kind = old.type
            else:
                kind = coltypes.unify(old.type, hive_type)
            if hive_type == coltypes.NULL or old.type == coltypes.NULL:  # a null-only block says nothing either
                empty_only = old.empty_arrays_only if hive_type == coltypes.NULL else empty_arrays_only
            else:
                empty_only = old.empty_arrays_only and empty_arrays_only
            self.columns[path] = FileColumn(kind, max(old.max_abs_int, max_abs_int), empty_only)
