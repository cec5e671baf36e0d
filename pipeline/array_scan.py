"""Finds the elements of a top-level JSON array in bulk (numpy), so an array can take the NDJSON fast path.

Per-element `raw_decode` in a Python loop costs more than the decoding itself, and it builds Python objects that
pyarrow then has to convert back. Instead, a window of the array's bytes is scanned with vectorised operations:
quotes (minus escaped ones) give the string regions, the brackets outside strings give each byte's depth, and the
commas at depth 1 separate the elements. The complete elements are handed on as NDJSON (top-level commas become
newlines, newlines between tokens become spaces), which pyarrow.json parses straight into Arrow.

The scan only has to be right for valid JSON: it never decides that input is valid. pyarrow (or `json` on the exact
path) parses every element, and anything the scan does not recognise (an element that is not an object, a missing
comma, bytes after the closing bracket...) returns None, so the caller falls back to the element-by-element parser,
which reports the exact error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_OPEN_OBJECT, _CLOSE_OBJECT, _OPEN_ARRAY, _CLOSE_ARRAY = ord("{"), ord("}"), ord("["), ord("]")
_COMMA, _NEWLINE, _QUOTE, _BACKSLASH, _SPACE = ord(","), ord("\n"), ord('"'), ord("\\"), ord(" ")
_WHITESPACE = b" \t\r\n"

_MARKS = np.zeros(256, dtype=bool)  # the bytes whose position matters outside strings
_MARKS[[_OPEN_OBJECT, _CLOSE_OBJECT, _OPEN_ARRAY, _CLOSE_ARRAY, _COMMA, _NEWLINE]] = True
_DEPTH_STEP = np.zeros(256, dtype=np.int32)
_DEPTH_STEP[[_OPEN_OBJECT, _OPEN_ARRAY]] = 1
_DEPTH_STEP[[_CLOSE_OBJECT, _CLOSE_ARRAY]] = -1
_ALL_BUT_SKELETON = bytes(b for b in range(256) if b not in b'"{}[]\n')  # deleted before `_scan_lines` measures depth


@dataclass
class ArrayScan:
    """The complete elements at the start of a window of a top-level array (after '[' or before a ',')."""

    count: int  # complete elements found (0: the window needs more bytes)
    start: int  # offset in the window of the first element's '{'
    cut: int  # offset of the ',' or ']' right after the last complete element: the next window starts there
    closed: bool  # the ']' closing the array is at `cut`
    ndjson: bytes  # the elements, one per line
    depth: int = 0  # the deepest nesting in the window's elements (pipeline/depth.py counts the same way)
    newlines: int | None = None  # newlines in the window before `cut`, when the scan counted them


def scan_array(window: bytes, first: bool) -> ArrayScan | None:
    """Scans `window`, which starts right after the array's '[' (`first`) or at the ',' before the next element.

    None: something other than `{object}, {object}, ...` (possibly valid JSON, such as a scalar element, but not
    for this scanner): the caller parses from the window's start element by element.
    """
    return _scan_lines(window, first) or _scan_one_per_line(window, first) or _scan(window, first)


def _scan_lines(window: bytes, first: bool) -> ArrayScan | None:
    """One element per line (`[\n{...},\n{...}\n]`, what most writers produce) in a few C-level passes, cheaper
    than `_scan_one_per_line`: every newline between the first element and the window's last `},\n` must
    sit in `},\n{`, and the depth outside strings must be back at the array's at each of those newlines. That depth
    is measured on the window's quotes, brackets and newlines only (`bytes.translate` drops the rest), so a `},\n{`
    inside an element (an array of objects split over lines) is never taken for a cut, and a window ending inside an
    element carries it over to the next window. None for anything else, including any backslash (an escaped quote
    would need the escape scan): `_scan_one_per_line` decides."""
    start = window.find(b"{")
    if start < 0 or window[:start].translate(None, _WHITESPACE) != (b"" if first else b","):
        return None
    end = window.rfind(b"},\n")
    if end < start:
        return None
    if window.find(b"\\", start, end + 1) >= 0:
        return None
    # the elements without their separating commas (blanked, which is cheaper than bytes.replace): NDJSON for
    # pyarrow. Copied once, from the window (a slice of it first was a second 4 MB copy per window)
    lines = np.frombuffer(window, dtype=np.uint8, count=end + 1 - start, offset=start).copy()
    newlines = np.flatnonzero(lines == _NEWLINE)  # none at either end: the elements start with '{' and end with '}'
    if not (
        np.all(lines[newlines - 1] == _COMMA)
        and np.all(lines[newlines - 2] == _CLOSE_OBJECT)
        and np.all(lines[newlines + 1] == _OPEN_OBJECT)
    ):
        return None  # a newline outside `},\n{`
    lines[newlines - 1] = _SPACE
    count = len(newlines) + 1
    # the skeleton of the elements: the window's, less that of the bytes before the first and after the last
    before = len(window[:start].translate(None, _ALL_BUT_SKELETON))
    after = len(window[end + 1 :].translate(None, _ALL_BUT_SKELETON))
    whole = np.frombuffer(window.translate(None, _ALL_BUT_SKELETON), dtype=np.uint8)
    skeleton = whole[before : len(whole) - after]
    quotes = (skeleton == _QUOTE).view(np.uint8)
    # without backslashes quotes alternate open/close: an odd count before a byte puts it inside a string
    outside = np.flatnonzero((np.bitwise_xor.accumulate(quotes) | quotes) == 0)
    chars = skeleton[outside]
    depth = np.cumsum(_DEPTH_STEP[chars])  # 0 between elements, 1 inside one (as `_scan`'s depth - 1)
    if len(depth) == 0 or depth[-1] != 0 or np.any(depth[chars == _NEWLINE] != 0) or depth.min() < 0:
        return None
    newlines_before = window.count(b"\n", 0, start)
    return ArrayScan(count, start, end + 1, False, lines.tobytes(), int(depth.max()), newlines_before + count - 1)


def _scan_one_per_line(window: bytes, first: bool) -> ArrayScan | None:
    """The common layouts (compact, or one element per line) in about a third of `_scan`'s time: only braces and
    brackets are located, and the elements are joined by newlines as they are. None: let `_scan` decide."""
    data = np.frombuffer(window, dtype=np.uint8)
    quotes = np.flatnonzero(data == _QUOTE)
    if window.find(b"\\") >= 0:
        quotes = np.setdiff1d(quotes, _escaped(window, data), assume_unique=True)
    folded = data | 0x20  # '[' -> '{' and ']' -> '}'
    marks = np.flatnonzero((folded == _OPEN_OBJECT) | (folded == _CLOSE_OBJECT))
    if len(quotes):
        marks = marks[(np.searchsorted(quotes, marks) & 1) == 0]
    chars = data[marks]
    step = np.where((chars | 0x20) == _OPEN_OBJECT, 1, -1)
    depth = 1 + np.cumsum(step)
    if len(depth) == 0 or depth.min() < 1:
        return None  # the array's end (or no element) in this window
    top = (depth - step) == 1
    returns = (depth == 1) & ~top
    if np.any(chars[top] != _OPEN_OBJECT) or np.any(chars[returns] != _CLOSE_OBJECT):
        return None
    starts = marks[top].tolist()
    ends = (marks[returns] + 1).tolist()
    complete = len(ends)
    if complete == 0:
        return None
    between = b"".join(window[a:b] for a, b in zip(ends[: complete - 1], starts[1:complete], strict=True))
    lead = window[: starts[0]].translate(None, _WHITESPACE)
    if between.translate(None, _WHITESPACE) != b"," * (complete - 1) or lead != (b"" if first else b","):
        return None
    tail = window[ends[-1] : starts[complete] if complete < len(starts) else len(window)]
    after = tail.translate(None, _WHITESPACE)
    if after == b",":
        count, cut = complete, ends[-1] + tail.find(b",")
    elif after == b"" and complete > 1:
        count = complete - 1
        cut = window.find(b",", ends[count - 1], starts[count])
    else:
        return None
    lines = b"\n".join(window[a:b] for a, b in zip(starts[:count], ends[:count], strict=True))
    if lines.count(b"\n") != count - 1:
        return None  # an element spans lines (pretty-printed): `_scan` turns its newlines into spaces
    return ArrayScan(count, starts[0], cut, False, lines, int(depth.max()) - 1)


def _scan(window: bytes, first: bool) -> ArrayScan | None:
    data = np.frombuffer(window, dtype=np.uint8)
    quotes = np.flatnonzero(data == _QUOTE)
    if window.find(b"\\") >= 0:
        quotes = np.setdiff1d(quotes, _escaped(window, data), assume_unique=True)
    marks = np.flatnonzero(_MARKS[data])
    if len(quotes):
        marks = marks[(np.searchsorted(quotes, marks) & 1) == 0]  # an odd number of quotes before: in a string
    chars = data[marks]
    newlines = marks[chars == _NEWLINE]
    structural = chars != _NEWLINE
    marks, chars = marks[structural], chars[structural]
    step = _DEPTH_STEP[chars]
    depth = 1 + np.cumsum(step)  # after each mark; the window starts at depth 1, inside the array

    closed, end_at = False, -1
    below = np.flatnonzero(depth < 1)
    if len(below):
        end = int(below[0])
        end_at = int(marks[end])
        if chars[end] != _CLOSE_ARRAY or window[end_at + 1 :].strip(_WHITESPACE):
            return None
        closed = True
        marks, chars, depth, step = marks[:end], chars[:end], depth[:end], step[:end]
    deepest = int(depth.max()) - 1 if len(depth) else 0
    top = (depth - step) == 1
    tokens, token_at = chars[top], marks[top]
    leading, trailing = (_OPEN_OBJECT, _COMMA) if first else (_COMMA, _OPEN_OBJECT)
    if not (np.all(tokens[0::2] == leading) and np.all(tokens[1::2] == trailing)):
        return None  # a scalar or array element, or two elements without a comma between
    returns = (depth == 1) & ~top
    if np.any(chars[returns] != _CLOSE_OBJECT):
        return None
    opens, closes = token_at[tokens == _OPEN_OBJECT], marks[returns]
    commas = token_at[tokens == _COMMA]
    commas_after = commas if first else commas[1:]  # the comma after each element
    if closed:
        if len(closes) != len(opens) or (len(tokens) and tokens[-1] == _COMMA):
            return None  # an unclosed element, or a trailing comma
        count, cut = len(opens), end_at
    else:
        count = min(len(closes), len(commas_after))
        if count == 0:
            return ArrayScan(0, 0, 0, False, b"", deepest)
        cut = int(commas_after[count - 1])
    if count == 0:  # `[ ]`, or `, ]` after elements (caught above as a trailing comma)
        return ArrayScan(0, 0, cut, True, b"") if not window[:cut].strip(_WHITESPACE) else None
    starts, ends = opens[:count].tolist(), (closes[:count] + 1).tolist()
    gaps = b"".join(window[a:b] for a, b in zip([0, *ends], [*starts, cut], strict=True))
    separators = count - 1 if first else count
    if gaps.translate(None, _WHITESPACE) != b"," * separators:
        return None  # something other than whitespace between an element and its comma
    start = starts[0]
    lines = data[start:cut].copy()
    lines[newlines[(newlines > start) & (newlines < cut)] - start] = ord(" ")
    lines[commas[(commas > start) & (commas < cut)] - start] = _NEWLINE
    return ArrayScan(count, start, cut, closed, lines.tobytes(), deepest)


def _escaped(window: bytes, data: np.ndarray) -> np.ndarray:
    """Positions of the characters escaped by a backslash (only valid inside strings; a rare, short loop)."""
    escaped = []
    backslashes = np.flatnonzero(data == _BACKSLASH).tolist()
    index = 0
    while index < len(backslashes):
        at = backslashes[index]
        escaped.append(at + 1)
        index += 2 if index + 1 < len(backslashes) and backslashes[index + 1] == at + 1 else 1
    return np.array(escaped, dtype=np.int64)
