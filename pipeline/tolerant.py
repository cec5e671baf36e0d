"""One policy for the number literals JSON does not have, on every parse path.

RFC 8259 has no NaN or infinity, but Python's `json.dumps`, JavaScript engines and pandas write them, and pyarrow's
reader (the fast path) accepts `NaN`, `-NaN`, `Infinity`, `-Infinity`, `Inf` and `-Inf`. Python's `json` (the exact
path) accepts only `NaN`, `Infinity` and `-Infinity`. So the exact path accepts the rest too: where `json` stops at
one of them, the literal is rewritten to the spelling `json` knows and parsing resumes. Either way the value is a
double NaN or ±infinity (`-NaN` is NaN: Parquet and Athena have one NaN). Anything else (`nan`, `+Infinity`,
`NAN`) is invalid JSON on both paths.
"""

from __future__ import annotations

import json
from typing import Any

_DECODER = json.JSONDecoder()
# (literal, spelling json knows); longest first, and never rewriting a literal json already accepts
_REWRITES = (("-Infinity", None), ("Infinity", None), ("-NaN", " NaN"), ("-Inf", "-Infinity"), ("Inf", "Infinity"))


def _rewritten(error: json.JSONDecodeError) -> str | None:
    doc, at = error.doc, error.pos
    for literal, spelling in _REWRITES:
        if doc.startswith(literal, at):
            return None if spelling is None else doc[:at] + spelling + doc[at + len(literal) :]
    return None


def raw_decode_tolerant(text: str, position: int = 0) -> tuple[Any, int, str]:
    """`json.JSONDecoder().raw_decode` with the literals above: (value, end, text), where `text` is the one `end`
    indexes (a rewritten `Inf` makes it 5 characters longer)."""
    while True:
        try:
            value, end = _DECODER.raw_decode(text, position)
            return value, end, text
        except json.JSONDecodeError as error:
            fixed = _rewritten(error)
            if fixed is None:
                raise
            text = fixed


def loads_tolerant(text: str | bytes) -> Any:
    """`json.loads` with the literals above."""
    while True:
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            fixed = _rewritten(error)
            if fixed is None:
                raise
            text = fixed
