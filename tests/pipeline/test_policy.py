"""Flattening, naming and typing policies: input records -> the exact columns, types and rows written.

Every case runs twice: with the pyarrow fast path and with every block on the exact Python path (same result).
"""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from pipeline_helpers import ndjson, read_outputs

pytestmark = pytest.mark.layer

SYSTEM = {"_record_id", "_source_key", "_parent_record_id", "_position"}


def user_columns(result, dataset="orders") -> dict[str, str]:
    output = next(o for o in result.outputs if o.dataset == dataset)
    return {name: kind for name, kind in output.columns.items() if name not in SYSTEM}


def user_rows(result, dataset="orders") -> list[dict]:
    return [{k: v for k, v in row.items() if k not in SYSTEM} for row in read_outputs(result)[dataset]]


POLICY = [
    (
        "nested objects join with _",
        [{"customer": {"address": {"city": "Oslo"}}}],
        {"customer_address_city": "string"},
        [{"customer_address_city": "Oslo"}],
    ),
    (
        "dots, spaces, dashes and uppercase",
        [{"Order.ID": 1, "Ship To": "x", "e-mail": "a@b"}],
        {"order_id": "bigint", "ship_to": "string", "e_mail": "string"},
        [{"order_id": 1, "ship_to": "x", "e_mail": "a@b"}],
    ),
    (
        "case collision: first path keeps the name, the other gets a hash suffix",
        [{"Name": "A", "name": "b"}],
        {"name": "string", "name_d4c6a5": "string"},
        [{"name": "A", "name_d4c6a5": "b"}],
    ),
    (
        "a dotted key colliding with a nested path keeps both values",
        [{"a.b": 1, "a": {"b": 2}}],
        {"a_b": "bigint", "a_b_22ffc3": "bigint"},
        [{"a_b": 2, "a_b_22ffc3": 1}],
    ),
    (
        "leading digit and unicode keys",
        [{"2024 total": 5, "café": "x", "名前": "y"}],
        {"_2024_total": "bigint", "cafe": "string", "col_c95638": "string"},
        [{"_2024_total": 5, "cafe": "x", "col_c95638": "y"}],
    ),
    (
        "all-null column is string, never null type",
        [{"a": None}, {"a": None}],
        {"a": "string"},
        [{"a": None}, {"a": None}],
    ),
    (
        "ints mixed with decimals become double",
        [{"p": 1}, {"p": 2.5}, {"p": None}],
        {"p": "double"},
        [{"p": 1.0}, {"p": 2.5}, {"p": None}],
    ),
    (
        "string vs number keeps each value's JSON text",
        [{"v": 1}, {"v": "one"}, {"v": True}, {"v": 1.5}],
        {"v": "string"},
        [{"v": "1"}, {"v": "one"}, {"v": "true"}, {"v": "1.5"}],
    ),
    (
        "object vs scalar keeps both",
        [{"x": 5}, {"x": {"y": 6}}],
        {"x": "bigint", "x_y": "bigint"},
        [{"x": 5, "x_y": None}, {"x": None, "x_y": 6}],
    ),
    (
        "ns timestamp strings stay exact strings",
        [{"ts": "2024-01-01T10:00:00.123456789Z"}, {"ts": "2024-01-02"}],
        {"ts": "string"},
        [{"ts": "2024-01-01T10:00:00.123456789Z"}, {"ts": "2024-01-02"}],
    ),
    (
        "integers beyond int64 keep their value as decimal(38,0)",
        [{"big": 2**63}, {"big": -(2**70)}, {"big": 7}],
        {"big": "decimal(38,0)"},
        [{"big": Decimal(2**63)}, {"big": Decimal(-(2**70))}, {"big": Decimal(7)}],
    ),
    (
        "integers beyond 38 digits keep their value as text",
        [{"huge": 10**40}],
        {"huge": "string"},
        [{"huge": str(10**40)}],
    ),
    (
        "deep nesting",
        [{"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}],
        {"a_b_c_d_e_f": "bigint"},
        [{"a_b_c_d_e_f": 1}],
    ),
    (
        "arrays of scalars are array columns",
        [{"tags": ["a", "b"], "n": [1, 2.5], "f": [True, None]}],
        {"tags": "array<string>", "n": "array<double>", "f": "array<boolean>"},
        [{"tags": ["a", "b"], "n": [1.0, 2.5], "f": [True, None]}],
    ),
    (
        "mixed and nested arrays keep JSON text per element",
        [{"m": [1, "a", None]}, {"m": [[1, 2], {"k": 1}]}],
        {"m": "array<string>"},
        [{"m": ["1", "a", None]}, {"m": ["[1,2]", '{"k":1}']}],
    ),
    (
        "empty arrays are empty array values; empty objects add no column",
        [{"id": 1, "tags": [], "meta": {}}, {"id": 2, "tags": None}],
        {"id": "bigint", "tags": "array<string>"},
        [{"id": 1, "tags": []}, {"id": 2, "tags": None}],
    ),
]


@pytest.mark.parametrize("shape", ["ndjson", "array"])
@pytest.mark.parametrize(("label", "records", "columns", "rows"), POLICY, ids=[case[0] for case in POLICY])
def test_policy(parse_path, transform, label, records, columns, rows, shape) -> None:
    result = transform(ndjson(records) if shape == "ndjson" else json.dumps(records).encode())
    assert user_columns(result) == columns
    assert user_rows(result) == rows


def test_arrays_of_objects_become_child_datasets(parse_path, transform) -> None:
    records = [
        {"id": 1, "items": [{"sku": "A", "parts": [{"p": 1}, {"p": 2}]}, {"sku": "B"}]},
        {"id": 2, "items": []},
        {"id": 3, "items": [None, {"sku": "C"}]},
    ]
    result = transform(ndjson(records))
    out = read_outputs(result)
    assert sorted(out) == ["orders", "orders__items", "orders__items__parts"]
    assert user_columns(result) == {"id": "bigint"}  # `items: []` adds no parent column
    parents = {row["id"]: row["_record_id"] for row in out["orders"]}
    items = [(r["_parent_record_id"], r["_position"], r["sku"]) for r in out["orders__items"]]
    assert items == [(parents[1], 0, "A"), (parents[1], 1, "B"), (parents[3], 0, None), (parents[3], 1, "C")]
    first_item = out["orders__items"][0]["_record_id"]
    parts = [(r["_parent_record_id"], r["_position"], r["p"]) for r in out["orders__items__parts"]]
    assert parts == [(first_item, 0, 1), (first_item, 1, 2)]
    assert len({r["_record_id"] for r in out["orders__items"]}) == 4


def test_record_ids_are_deterministic_and_carry_lineage(transform) -> None:
    data = ndjson([{"a": 1}, {"a": 2}])
    first = read_outputs(transform(data, key="raw/orders/x.json"))["orders"]
    assert [row["_source_key"] for row in first] == ["raw/orders/x.json"] * 2
    assert [row["_record_id"].split(":")[1] for row in first] == ["0", "1"]


def test_long_names_are_cut_to_255_with_a_hash(transform) -> None:
    result = transform(ndjson([{"k" * 300: 1, "k" * 299 + "K": 2}]))
    names = list(user_columns(result))
    assert len(names) == 2 and all(len(name) <= 255 for name in names) and len(set(names)) == 2


def test_parquet_types_are_what_glue_expects(transform) -> None:
    records = [{"s": "x", "i": 1, "d": 1.5, "b": True, "big": 2**64, "tags": ["a"], "n": None}]
    result = transform(ndjson(records))
    schema = pq.read_schema(result.outputs[0].path)
    assert {f.name: str(f.type) for f in schema if f.name not in SYSTEM} == {
        "s": "string",
        "i": "int64",
        "d": "double",
        "b": "bool",
        "big": "decimal128(38, 0)",
        "tags": "list<element: string>",
        "n": "string",
    }
    metadata = pq.ParquetFile(result.outputs[0].path).metadata
    assert metadata.row_group(0).column(0).compression == "SNAPPY"  # the layer's pyarrow has no zstd
