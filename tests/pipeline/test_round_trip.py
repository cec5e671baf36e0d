"""Round trip: messy random records through the transform, Parquet read back, every input leaf value found."""

from __future__ import annotations

import gzip
import json
import random
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from pipeline_helpers import read_outputs

from pipeline import config
from pipeline.coltypes import json_text
from pipeline.schema import MemorySchemaStore

pytestmark = pytest.mark.layer

KEYS = ["id", "Name", "name", "a.b", "price", "Tags", "items", "meta", "ts", "Straße", "x y"]


def random_value(rng: random.Random, depth: int) -> Any:
    choice = rng.randrange(13 if depth < 3 else 8)
    return [
        lambda: rng.randrange(-1000, 1000),
        lambda: round(rng.uniform(-1e6, 1e6), 3),
        lambda: rng.choice(["", "x", "ø", "2024-01-01T00:00:00.123456789Z", "12"]),
        lambda: rng.random() < 0.5,
        lambda: None,
        lambda: rng.choice([2**63 + rng.randrange(100), -(2**64)]),
        lambda: [rng.randrange(10) for _ in range(rng.randrange(4))],
        lambda: [],
        lambda: random_object(rng, depth + 1),
        lambda: [random_object(rng, depth + 1) for _ in range(rng.randrange(1, 4))],
        lambda: {},
        lambda: [rng.choice(["a", 1, None, 2.5])],
        lambda: [[1, 2], {"k": "v"}],
    ][choice]()


def random_object(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    return {key: random_value(rng, depth) for key in rng.sample(KEYS, rng.randrange(1, 6))}


def same(value: Any, stored: Any) -> bool:
    if isinstance(stored, str) and isinstance(value, list):
        # an array<string> of JSON texts (nested/mixed arrays) that later became a string column keeps those texts
        as_texts = [None if element is None else json_text(element) for element in value]
        return stored in (json_text(value), json_text(as_texts)) or _same_json(stored, value)
    if isinstance(value, list):
        return isinstance(stored, list) and len(stored) == len(value) and all(map(same, value, stored))
    if value is None or stored is None:
        return value is stored
    if isinstance(stored, str) and not isinstance(value, str):
        # the JSON text of the value; a number that went through a double column may read 7.0 for 7 (same value)
        return stored == json_text(value) or _same_json(stored, value)
    if isinstance(value, bool) or isinstance(stored, bool):
        return value is stored
    if isinstance(stored, Decimal | int | float) and isinstance(value, int | float):
        return Decimal(str(stored)) == Decimal(str(value)) or float(stored) == float(value)
    return value == stored


def _same_json(text: str, value: Any) -> bool:
    try:
        parsed = json.loads(text)
    except ValueError:
        return False
    return parsed == value and json.dumps(parsed).count("true") == json.dumps(value).count("true")


class Checker:
    def __init__(self, store: MemorySchemaStore, outputs: dict[str, list[dict[str, Any]]]) -> None:
        self.store = store
        self.children_rows: dict[str, dict[str, list[dict]]] = {}
        for dataset, rows in outputs.items():
            by_parent = defaultdict(list)
            for row in rows:
                by_parent[row.get("_parent_record_id")].append(row)
            self.children_rows[dataset] = by_parent
        self.checked = 0

    def check(self, obj: dict[str, Any], row: dict[str, Any], dataset: str, prefix: tuple = ()) -> None:
        record = self.store.load(dataset)[0]
        columns = defaultdict(list)
        for column in record["columns"]:
            if column["path"] is not None:
                columns[tuple(column["path"])].append(column["name"])
        children = {tuple(child["path"]): child["dataset"] for child in record["children"]}
        self._walk(obj, row, dataset, columns, children, prefix)

    def _walk(self, obj, row, dataset, columns, children, prefix) -> None:
        for key, value in obj.items():
            path = (*prefix, key)
            if isinstance(value, dict):
                self._walk(value, row, dataset, columns, children, path)
                continue
            if (
                isinstance(value, list)
                and any(isinstance(v, dict) for v in value)
                and all(isinstance(v, dict | type(None)) for v in value)
            ):
                child = children[path]
                rows = sorted(self.children_rows[child][row["_record_id"]], key=lambda r: r["_position"])
                assert [r["_position"] for r in rows] == list(range(len(value)))
                for element, child_row in zip(value, rows, strict=True):
                    if element:
                        self.check(element, child_row, child)
                continue
            if value is None or (value == [] and path in children):
                continue
            stored = [row[name] for name in columns[path]]
            assert any(same(value, candidate) for candidate in stored), (dataset, path, value, stored)
            self.checked += 1


@pytest.mark.parametrize("small_blocks", [False, True], ids=["one-block", "many-blocks"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_leaf_value_survives(parse_path, transform, monkeypatch, seed: int, small_blocks: bool) -> None:
    """Many small blocks make later blocks go through the drift repairs earlier blocks taught (repair.py)."""
    if small_blocks:
        monkeypatch.setattr(config, "ARRAY_BLOCK_RECORDS", 7)
    block_bytes = 2048 if small_blocks else config.BLOCK_BYTES
    rng = random.Random(seed)
    store = MemorySchemaStore()
    files = [[random_object(rng) for _ in range(rng.randrange(20, 60))] for _ in range(4)]
    checker_total = 0
    for number, records in enumerate(files):
        if number % 2:
            data = gzip.compress(json.dumps(records).encode())
        else:
            data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
        result = transform(data, store=store, block_bytes=block_bytes)
        outputs = read_outputs(result)
        checker = Checker(store, outputs)
        parents = outputs["orders"]
        assert len(parents) == len(records)
        for record, row in zip(records, parents, strict=True):
            checker.check(record, row, "orders")
        checker_total += checker.checked
    assert checker_total > 100
