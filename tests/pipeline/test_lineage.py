"""Lineage ids built from numpy bytes (pipeline/lineage.py) are the strings Arrow's joins build, for any block."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipeline import lineage

pytest.importorskip("hypothesis", reason="a dev dependency, not in the layer's environment (make test-layer)")
from hypothesis import given, settings
from hypothesis import strategies as st


def _joined_parent_ids(short_hash: str, first_index: int, rows: int) -> pa.Array:
    numbers = pa.array(np.arange(first_index, first_index + rows, dtype=np.int64))
    return pc.binary_join_element_wise(f"{short_hash}:", pc.cast(numbers, pa.string()), "")


def _children(counts: list[int]) -> tuple[pa.Array, pa.Array]:
    """(parent_index, position) of the children of rows with `counts` children each (as list_parent_indices)."""
    index = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    position = np.concatenate([np.arange(count, dtype=np.int64) for count in counts] + [np.zeros(0, np.int64)])
    return pa.array(index), pa.array(position)


@settings(max_examples=200, deadline=None)
@given(
    # row numbers around 10**k, where a block's ids change width, and lists of up to 12 elements (two-digit positions)
    first_index=st.sampled_from([0, 1, 9, 95, 99_990, 123_456]) | st.integers(min_value=0, max_value=10**7),
    counts=st.lists(st.integers(min_value=0, max_value=12), max_size=30),
    grandchildren=st.lists(st.integers(min_value=0, max_value=3), max_size=400),
)
def test_the_ids_are_arrow_s_joins(first_index, counts, grandchildren) -> None:
    parents = lineage.parent_ids("ab12cd34", first_index, len(counts))
    assert parents.ids.equals(_joined_parent_ids("ab12cd34", first_index, len(counts)))
    index, position = _children(counts)
    taken, children = lineage.child_ids(parents, index, position)
    assert taken.equals(pc.take(parents.ids, index))
    assert children.ids.equals(pc.binary_join_element_wise(taken, pc.cast(position, pa.string()), ":"))
    index, position = _children((grandchildren + [0] * len(children.ids))[: len(children.ids)])
    taken, grand = lineage.child_ids(children, index, position)
    assert taken.equals(pc.take(children.ids, index))
    assert grand.ids.equals(pc.binary_join_element_wise(taken, pc.cast(position, pa.string()), ":"))


@pytest.mark.parametrize("value", ["raw/orders/x.jsonl", "raw/é/ü.json", ""])
@pytest.mark.parametrize("rows", [0, 1, 5])
def test_a_repeated_source_key_is_the_list_s_array(value, rows) -> None:
    assert lineage.repeated(value, rows).equals(pa.array([value] * rows, pa.string()))
