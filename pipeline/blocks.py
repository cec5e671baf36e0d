"""Block parsing: the fast path (pyarrow.json straight into Arrow) with the exact path as its per-block fallback.

pyarrow.json parses NDJSON at ~80 MB/s but refuses type drift inside a block, turns ISO strings into timestamps
and big integers into doubles. So each block is first read with an explicit schema learned from earlier blocks
(timestamps forced back to strings); if pyarrow refuses the block, or it holds a number beyond int64, the block is
parsed again by the pure-Python path, which is exact on any JSON. Both give the same `BlockTables`.

On messy input (the fast path keeps declining) the parser stops trying it on every block and retries it only now
and then, so messy files do not pay for two parses of every block.
"""

from __future__ import annotations

import functools
import gc
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.json as pa_json

from pipeline import config
from pipeline.depth import arrow_depth, check_lines, too_deep
from pipeline.flatten import BlockTables, FastPathDeclined, flatten_arrow, flatten_records
from pipeline.formats import Block, InputFormatError, parse_ndjson_block
from pipeline.repair import Repairs, unmark

log = logging.getLogger(__name__)
SAMPLE_BYTES = 256 << 10  # the first block's prefix that teaches the explicit schema
READ_CHUNK_BYTES = 1 << 20  # with threads, pyarrow parses a block's 1 MB chunks on all cores
_MAX_CHUNK_BYTES = (1 << 31) - 1  # ReadOptions.block_size is an int32
RETRY_FAST_EVERY = 8  # after two declines in a row, try the fast path again only every 8th block
_T = TypeVar("_T")
_SURROGATE = re.compile("[\ud800-\udfff]")  # after json.loads, only lone ones are left: pairs became one character


@dataclass
class ParseStats:
    fast_blocks: int = 0
    exact_blocks: int = 0
    worker_blocks: int = 0  # of those, parsed by a worker process (parse_worker.py)


class BlockParser:
    """Parses blocks of one input, learning the fast path's explicit schema as it goes.

    `parse` takes the blocks one after the other. `fast` and `exact` are its two halves, for a caller that parses
    several blocks at once (parse_ahead.py): `fast` touches no state of the parser, so threads may run it side by
    side; `exact` learns drift repairs, so it runs on one block at a time, in input order."""

    def __init__(self) -> None:
        self.schema: pa.Schema | None = None
        self.stats = ParseStats()
        self.declines_in_a_row = 0
        self.repairs = Repairs()
        self._counting = threading.Lock()  # the stats, counted from several threads

    def parse(self, block: Block) -> BlockTables:
        """The block's tables. Any failure the block's bytes cause is InputFormatError (bad input, quarantined);
        the parsers touch no network or disk, so only running out of memory is left to propagate."""
        return _bad_input_errors(block, self._parse, block)

    def fast(
        self, block: Block, schema: pa.Schema | None, *, threads: bool
    ) -> tuple[BlockTables | None, pa.Schema | None]:
        """The fast path alone, reading with the explicit `schema` (None: learned from the block's start): the
        tables (None if it declined) and the schema to read later blocks with. `threads`: Arrow's pool parses the
        block's chunks on all cores; else one thread reads it whole (callers parsing blocks side by side).
        Thread-safe: it touches no state of the parser."""
        tables, learned = _bad_input_errors(block, self._fast, block, schema, threads)
        if tables is not None:
            self._count(fast=1)
        return tables, learned

    def exact(self, block: Block) -> BlockTables:
        """The records path (pyarrow's converter after drift repairs, else the exact flattener, which teaches
        repairs): for the blocks `fast` declined or was not worth trying on, one at a time, in input order."""
        return _bad_input_errors(block, self._records, block)

    @staticmethod
    def fast_worth_trying(declines_in_a_row: int) -> bool:
        """Whether to try the fast path after that many declines in a row (then only every RETRY_FAST_EVERY)."""
        return declines_in_a_row < 2 or declines_in_a_row % RETRY_FAST_EVERY == 0

    def _count(self, *, fast: int = 0, exact: int = 0) -> None:
        with self._counting:
            self.stats.fast_blocks += fast
            self.stats.exact_blocks += exact

    def _parse(self, block: Block) -> BlockTables:
        if block.records is None and self.fast_worth_trying(self.declines_in_a_row):
            tables, self.schema = self._fast(block, self.schema, True)
            if tables is not None:
                self.declines_in_a_row = 0
                self._count(fast=1)
                return tables
            self.declines_in_a_row += 1
        elif block.records is None:
            self.declines_in_a_row += 1
        return self._records(block)

    def _records(self, block: Block) -> BlockTables:
        """Parsed records: pyarrow's converter after drift repair, else the exact path (which teaches repairs)."""
        # the cyclic GC has nothing to find in freshly parsed JSON, but scanning it costs 3-4x the parse
        enabled = gc.isenabled()
        gc.disable()
        try:
            if block.records is None and block.array_source is None and block.object_source is None:
                check_lines(block.data, block.first_line, block.byte_offset)  # NDJSON's short lines are unchecked
            records = block.records if block.records is not None else parse_ndjson_block(block)
            if block.records is not None or block.data.find(b"\\ud") >= 0 or block.data.find(b"\\uD") >= 0:
                _replace_lone_surrogates(records)
            self.repairs.apply(records)
            tables = _converted(records)
            if tables is not None:
                self._count(fast=1)
                return tables
            self._count(exact=1)
            tables = unmark(flatten_records(records))
            self.repairs.learn(tables)
            return tables
        finally:
            if enabled:
                gc.enable()

    def _fast(
        self, block: Block, schema: pa.Schema | None, threads: bool
    ) -> tuple[BlockTables | None, pa.Schema | None]:
        data = block.data
        try:
            if schema is None:  # learn from a small sample first, so the block is not read twice
                sample = memoryview(data)[: data.rfind(b"\n", 0, SAMPLE_BYTES) + 1] or data
                schema = _learnable(_within_depth(_read(sample, None, threads), block).schema)
            table = _within_depth(_read(data, schema, threads), block)
            learned, timestamps = _learned(table.schema)
            if timestamps:
                schema = learned
                table = _read(data, schema, threads)
            elif learned != schema:
                schema = learned
            if not data.isascii():  # pure ASCII is valid UTF-8 (a bytes scan ~5x faster than validating the table)
                table.validate(full=True)  # pyarrow.json does not check UTF-8; the exact path reports where it breaks
            return flatten_arrow(table), schema
        except (pa.ArrowInvalid, FastPathDeclined, UnicodeDecodeError) as reason:  # the last: a key's bad UTF-8
            log.debug("fast path declined a block: %s", reason)
            return None, schema


def _read(data: bytes | memoryview, schema: pa.Schema | None, threads: bool) -> pa.Table:
    """pyarrow.json over the bytes in place (a BufferReader: no copy, and no GIL for Arrow's threads to wait on).
    With `threads`, in READ_CHUNK_BYTES chunks parsed side by side on Arrow's pool; else, or when the data is one
    chunk (a small file: a third less CPU for 10 lines without the hand-off to the pool), in one chunk on this
    thread. The table is the same either way."""
    read_options = (
        pa_json.ReadOptions(block_size=READ_CHUNK_BYTES, use_threads=True)
        if threads and len(data) > READ_CHUNK_BYTES
        else pa_json.ReadOptions(block_size=min(max(len(data), 1), _MAX_CHUNK_BYTES), use_threads=False)
    )
    return pa_json.read_json(
        pa.BufferReader(data),
        read_options=read_options,
        parse_options=pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer"),
    )


def _bad_input_errors(block: Block, parse: Callable[..., _T], *args: Any) -> _T:
    """`parse(*args)`, with every failure the block's bytes cause as InputFormatError."""
    try:
        return parse(*args)
    except InputFormatError:
        raise
    except MemoryError:
        raise
    except RecursionError as error:
        raise InputFormatError(
            "a record is nested too deeply for the parser",
            expected=f"JSON records nested at most {config.MAX_NESTING_DEPTH} levels (objects and arrays)",
            line=block.first_line,
            byte_offset=block.byte_offset,
        ) from error
    except (ValueError, OverflowError, pa.ArrowException) as error:
        raise InputFormatError(
            f"the parser failed on this input ({type(error).__name__}: {error})",
            expected="JSON records the parser can read",
            line=block.first_line,
            byte_offset=block.byte_offset,
        ) from error


def _within_depth(table: pa.Table, block: Block) -> pa.Table:
    """The table pyarrow parsed, once its depth is known to be within the limit (before anything recurses into it)."""
    if arrow_depth(table.schema) > config.MAX_NESTING_DEPTH:
        check_lines(block.data, block.first_line, block.byte_offset)  # raises, saying which line
        raise too_deep(block.first_line, block.byte_offset, block.data[:80])
    return table


def _converted(records: list[dict]) -> BlockTables | None:
    """Records into Arrow by pyarrow's C++ converter; None when they still drift (the exact path then)."""
    try:
        return unmark(flatten_arrow(pa.Table.from_struct_array(pa.array(records))))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, FastPathDeclined) as reason:
        log.debug("converter declined parsed records: %s", reason)
        return None


@functools.lru_cache(maxsize=256)
def _learned(schema: pa.Schema) -> tuple[pa.Schema, bool]:
    """`_learnable(schema)` and `_has_timestamp(schema)`, once per schema: most blocks of a file parse to the same
    one, and walking it again took ~15 ms of CPU per 100 MB."""
    return _learnable(schema), _has_timestamp(schema)


def _has_timestamp(schema: pa.Schema | pa.DataType) -> bool:
    types = [field.type for field in schema] if isinstance(schema, pa.Schema) else [schema]
    for arrow in types:
        if pa.types.is_timestamp(arrow) or pa.types.is_date(arrow):
            return True
        if pa.types.is_struct(arrow) and _has_timestamp(pa.schema(list(arrow))):
            return True
        if pa.types.is_list(arrow) and _has_timestamp(arrow.value_type):
            return True
    return False


def _replace_lone_surrogates(records: list[dict[str, Any]]) -> int:
    """Replaces each lone surrogate (`"\\ud83d"`: valid JSON, RFC 8259 §8.2, but not Unicode text, so no valid UTF-8
    for Parquet) in keys and strings by U+FFFD, in place; returns how many strings changed. Iterative: records
    may be nested up to config.MAX_NESTING_DEPTH levels."""
    changed = 0
    stack: list[Any] = [records]
    while stack:
        container = stack.pop()
        if type(container) is list:
            for index, value in enumerate(container):
                if type(value) is str:
                    if _SURROGATE.search(value):
                        container[index] = _SURROGATE.sub("\ufffd", value)
                        changed += 1
                elif type(value) is dict or type(value) is list:
                    stack.append(value)
            continue
        for key, value in list(container.items()):
            if _SURROGATE.search(key):
                del container[key]
                key = _SURROGATE.sub("\ufffd", key)
                container[key] = value
                changed += 1
            if type(value) is str:
                if _SURROGATE.search(value):
                    container[key] = _SURROGATE.sub("\ufffd", value)
                    changed += 1
            elif type(value) is dict or type(value) is list:
                stack.append(value)
    if changed:
        log.warning("replaced lone surrogates by U+FFFD in %d strings", changed)
    return changed


def _learn_type(arrow: pa.DataType) -> pa.DataType | None:
    """The explicit type to ask for next time; None leaves the field to inference (null-only so far)."""
    if pa.types.is_timestamp(arrow) or pa.types.is_date(arrow):
        return pa.string()
    if pa.types.is_null(arrow):
        return None
    if pa.types.is_struct(arrow):
        fields = []
        for child in arrow:  # a loop, not a comprehension: one frame per level of nesting (Python 3.11)
            learned = _learn_type(child.type)
            if learned is not None:
                fields.append(pa.field(child.name, learned))
        return pa.struct(fields) if fields else None
    if pa.types.is_list(arrow):
        element = _learn_type(arrow.value_type)
        return pa.list_(element) if element is not None else None
    return arrow


def _learnable(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, t) for f in schema if (t := _learn_type(f.type)) is not None])
