"""Nesting depth of JSON bytes, measured before any parser sees them.

Deep nesting is the one kind of input that can take the process down instead of raising: pyarrow's JSON reader
recurses in C++ and segfaults on a record nested ~10,000 levels deep, and `json` and the flatteners recurse in Python
(RecursionError near 1,000 frames). So every record's depth is checked on the raw bytes first, and a record deeper
than `config.MAX_NESTING_DEPTH` is bad input: `InputFormatError`, quarantined on the first attempt.

Depth counts the containers around the deepest value, the record itself being level 1: `{"a": 1}` is 1,
`{"a": [1]}` is 2, `{"a": {"b": {}}}` is 3. A top-level array's own bracket does not count.

- NDJSON, the hot path, in two cheap steps. Before pyarrow: a line can be no deeper than its length, so only lines
  longer than `SAFE_LINE_BYTES` (one numpy pass finds them) are checked on their bytes (`check_long_lines`); every
  other line is too short to nest deeper than pyarrow parses safely (tested to 4,000 levels). After pyarrow: the
  parsed table's Arrow type is exactly as deep as its deepest record (`arrow_depth`), so a too-deep short line is
  caught there, for free, before any Python code recurses into it. The exact path checks every line first.
- `check_lines`: a line can be no deeper than its number of `{` and `[` bytes, which one C-level `bytes.translate`
  pass bounds for every line of a block; only a line whose bound exceeds the limit is scanned exactly.
- `DepthScanner` scans a stream exactly and in bulk (numpy): escaped characters, then the quotes that open and close
  strings, then the brackets outside strings, whose running sum is the depth. It keeps its state across chunks.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from pipeline import config
from pipeline.input_base import InputFormatError, snippet_of

_OPEN_OBJECT, _CLOSE_OBJECT, _QUOTE, _BACKSLASH, _NEWLINE = ord("{"), ord("}"), ord('"'), ord("\\"), ord("\n")
_ALL_BUT_OPENERS = bytes(b for b in range(256) if b not in b"{[\n")  # deleted: what stays bounds each line's depth
# A line this short nests at most this deep: pyarrow's reader parses that safely (it was tested at 4,000 levels, in its
# thread pool; it segfaults near 10,000), and the parsed table's depth then says whether it is within the limit.
SAFE_LINE_BYTES = 2048


def too_deep(line: int | None, byte_offset: int | None, snippet: bytes | str) -> InputFormatError:
    return InputFormatError(
        f"a record is nested more than {config.MAX_NESTING_DEPTH} levels deep",
        expected=f"JSON records nested at most {config.MAX_NESTING_DEPTH} levels (objects and arrays)",
        line=line,
        byte_offset=byte_offset,
        snippet=snippet_of(snippet),
    )


def check_lines(data: bytes, first_line: int, byte_offset: int, limit: int | None = None) -> None:
    """Raises InputFormatError for the first line of NDJSON `data` nested deeper than `limit`."""
    limit = config.MAX_NESTING_DEPTH if limit is None else limit
    bounds = data.translate(None, _ALL_BUT_OPENERS).split(b"\n")
    if max(map(len, bounds)) <= limit:
        return
    start = 0
    for number, bound in enumerate(bounds):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        if len(bound) > limit:
            scanner = DepthScanner(limit)
            at = scanner.feed(data[start:end])
            if at >= 0:
                raise too_deep(first_line + number, byte_offset + start + at, data[start + at : start + at + 80])
        start = end + 1


def check_long_lines(data: bytes, first_line: int, byte_offset: int) -> int:
    """Before pyarrow: `check_lines` on the lines of NDJSON `data` longer than SAFE_LINE_BYTES; returns the number
    of newlines in `data` (for the next block's line number).

    A line longer than SAFE_LINE_BYTES holds a whole aligned chunk at most half that long, so when every such chunk
    of the newline mask (read as 64-bit words) holds a newline, no line is long and the newlines' offsets, which only
    a long line needs, are not computed.
    """
    newline = np.frombuffer(data, dtype=np.uint8) == _NEWLINE
    count = int(np.count_nonzero(newline))
    chunk = (SAFE_LINE_BYTES + 2) // 2 // 8 * 8  # a run of SAFE_LINE_BYTES + 1 bytes holds a whole aligned chunk
    whole = len(newline) // chunk * chunk if chunk else 0
    if chunk and newline[:whole].view(np.uint64).reshape(-1, chunk // 8).any(axis=1).all():
        return count
    newlines = np.flatnonzero(newline)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(data)]))
    for index in np.flatnonzero(ends - starts > SAFE_LINE_BYTES).tolist():
        start, end = int(starts[index]), int(ends[index])
        check_lines(data[start:end], first_line + index, byte_offset + start)
    return count


@functools.lru_cache(maxsize=256)  # most blocks of a file parse to the same schema
def arrow_depth(schema: pa.Schema) -> int:
    """The nesting depth of the records a table of `schema` holds (structs and lists are levels), iteratively."""
    deepest = 1
    stack = [(f.type, 1) for f in schema]  # (a value's type, the depth of the containers around it)
    while stack:
        arrow, around = stack.pop()
        if pa.types.is_struct(arrow):
            deepest = max(deepest, around + 1)
            stack.extend((arrow.field(i).type, around + 1) for i in range(arrow.num_fields))
        elif pa.types.is_list(arrow) or pa.types.is_large_list(arrow) or pa.types.is_fixed_size_list(arrow):
            deepest = max(deepest, around + 1)
            stack.append((arrow.value_type, around + 1))
    return deepest


@dataclass
class DepthScanner:
    """Exact depth of a JSON byte stream fed in chunks; `feed` returns where the depth first exceeds `limit`.

    Exact for valid JSON; on invalid JSON the depth is only an estimate (the parser reports the real error).
    `depth` is the depth after the bytes fed so far; `ends` (when `track_ends`) collects the stream offsets just
    after each `}` or `]` that brings the depth back to 0, i.e. where each top-level value ends.
    """

    limit: int = -1  # -1: config.MAX_NESTING_DEPTH
    depth: int = 0
    in_string: bool = False
    escaped: bool = False  # the next byte is escaped (the previous chunk ended in an odd run of backslashes)
    offset: int = 0  # stream offset of the next chunk
    track_ends: bool = False
    ends: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.limit < 0:
            self.limit = config.MAX_NESTING_DEPTH

    def feed(self, chunk: bytes) -> int:
        """Offset in `chunk` of the first bracket deeper than `limit`, or -1."""
        size = len(chunk)
        if not size:
            return -1
        data = np.frombuffer(chunk, dtype=np.uint8)
        escaped = self._escaped_positions(chunk, data)
        quotes = np.flatnonzero(data == _QUOTE)
        if len(escaped):
            quotes = quotes[~np.isin(quotes, escaped, assume_unique=True)]
        folded = data | 0x20  # '[' -> '{' and ']' -> '}'
        marks = np.flatnonzero((folded == _OPEN_OBJECT) | (folded == _CLOSE_OBJECT))
        if len(quotes) and len(marks):
            inside = (np.searchsorted(quotes, marks) + self.in_string) & 1
            marks = marks[inside == 0]
        elif self.in_string:
            marks = marks[:0]
        first = -1
        if len(marks):
            step = np.where(folded[marks] == _OPEN_OBJECT, 1, -1)
            depth = self.depth + np.cumsum(step)
            over = np.flatnonzero(depth > self.limit)
            if len(over):
                first = int(marks[over[0]])
            if self.track_ends:
                self.ends.extend((marks[(depth == 0) & (step < 0)] + 1 + self.offset).tolist())
            self.depth = int(depth[-1])
        self.in_string ^= bool(len(quotes) & 1)
        self.escaped = bool(len(escaped)) and int(escaped[-1]) == size
        self.offset += size
        return first

    def _escaped_positions(self, chunk: bytes, data: np.ndarray) -> np.ndarray:
        """Positions of the bytes that follow an escaping backslash (may include `len(chunk)`)."""
        if chunk.find(b"\\") < 0:
            return np.array([0], dtype=np.int64) if self.escaped else np.empty(0, dtype=np.int64)
        backslashes = np.flatnonzero(data == _BACKSLASH)
        index = np.arange(len(backslashes))
        new_run = np.ones(len(backslashes), dtype=bool)
        new_run[1:] = np.diff(backslashes) != 1
        in_run = index - np.maximum.accumulate(np.where(new_run, index, 0))  # 0 for a run's first backslash
        if self.escaped and backslashes[0] == 0:
            in_run[~np.maximum.accumulate(new_run & (index > 0))] += 1  # the first run starts escaped
        escaped = backslashes[(in_run & 1) == 0] + 1
        return np.concatenate(([0], escaped)) if self.escaped else escaped
