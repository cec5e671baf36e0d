"""Lineage columns of a block's tables, built as Arrow string arrays straight from numpy bytes where that is exact.

A parent row's `_record_id` is `<short hash>:<row number in the file>`, a child row's `<parent's id>:<position>`,
and `_source_key` repeats one string. Arrow's `binary_join_element_wise` and `cast(int64 -> string)` build these
element by element (~1 ms per 4 MB block). In a block the ids almost always share one length (the row numbers of a
block have the same number of digits, positions are one digit), so their bytes form a (rows x width) uint8 matrix:
the row numbers' digits are written column by column, a child's bytes are its parent's row of that matrix, a `:` and
its position's digit. When the lengths differ (a block crossing 10**k rows, a list of 10 or more elements), the ids
are joined by Arrow as before; both give the same strings, hence the same Parquet bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_COLON, _ZERO = ord(":"), ord("0")


@dataclass(frozen=True)
class RecordIds:
    """One level's `_record_id` array; `matrix` is its bytes as (rows, width) uint8 when all ids have one width."""

    ids: pa.Array
    matrix: np.ndarray | None = None


def _strings(matrix: np.ndarray) -> pa.Array:
    """A string array whose i-th value is row i of the (rows, width) uint8 `matrix` (ASCII)."""
    rows, width = matrix.shape
    offsets = np.arange(rows + 1, dtype=np.int32) * np.int32(width)
    data = np.ascontiguousarray(matrix).reshape(-1)
    return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(data))


def repeated(value: str, rows: int) -> pa.Array:
    """A string array of `rows` times `value`."""
    encoded = np.frombuffer(value.encode(), dtype=np.uint8)
    return _strings(np.broadcast_to(encoded, (rows, len(encoded))))


def parent_ids(short_hash: str, first_index: int, rows: int) -> RecordIds:
    """`<short_hash>:<n>` for n in first_index .. first_index + rows - 1."""
    last = first_index + rows - 1
    digits = len(str(max(first_index, 0)))
    if rows == 0 or first_index < 0 or len(str(last)) != digits or rows * (len(short_hash) + 1 + digits) >= 2**31:
        numbers = pa.array(np.arange(first_index, first_index + rows, dtype=np.int64))
        return RecordIds(pc.binary_join_element_wise(f"{short_hash}:", pc.cast(numbers, pa.string()), ""))
    prefix = np.frombuffer(f"{short_hash}:".encode(), dtype=np.uint8)
    matrix = np.empty((rows, len(prefix) + digits), dtype=np.uint8)
    matrix[:, : len(prefix)] = prefix
    numbers = np.arange(first_index, first_index + rows, dtype=np.int64)
    for column in range(matrix.shape[1] - 1, len(prefix) - 1, -1):
        numbers, digit = np.divmod(numbers, 10)
        matrix[:, column] = digit + _ZERO
    return RecordIds(_strings(matrix), matrix)


def child_ids(parents: RecordIds, parent_index: pa.Array, position: pa.Array) -> tuple[pa.Array, RecordIds]:
    """(`_parent_record_id`, `_record_id` = `<parent id>:<position>`) of a child table's rows."""
    rows = len(position)
    if parents.matrix is not None and rows and parent_index.null_count == 0 and position.null_count == 0:
        index = parent_index.to_numpy()
        places = position.to_numpy()
        width = parents.matrix.shape[1]
        if places.min() >= 0 and places.max() <= 9 and rows * (width + 2) < 2**31:
            taken = parents.matrix[index]
            matrix = np.empty((rows, width + 2), dtype=np.uint8)
            matrix[:, :width] = taken
            matrix[:, width] = _COLON
            matrix[:, width + 1] = places + _ZERO
            return _strings(taken), RecordIds(_strings(matrix), matrix)
    taken_ids = pc.take(parents.ids, parent_index)
    return taken_ids, RecordIds(pc.binary_join_element_wise(taken_ids, pc.cast(position, pa.string()), ":"))
