"""Marked sections of a Markdown file: `<!-- name -->` ... `<!-- /name -->`, replaced or kept as a whole.

results.md is rewritten whole by transform.py; the burst benchmark's section lives there between markers, which
transform.py carries over and burst.py --record replaces.
"""

from __future__ import annotations

import re

BURST_PREFIX = "burst"  # sections whose names start with this belong to burst.py


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"<!-- {re.escape(name)} -->\n.*?<!-- /{re.escape(name)} -->\n?", re.DOTALL)


def replace_section(text: str, name: str, body: str) -> str:
    """`text` with section `name` holding `body` (appended at the end if the section is new)."""
    block = f"<!-- {name} -->\n{body.rstrip()}\n<!-- /{name} -->\n"
    if _pattern(name).search(text):
        return _pattern(name).sub(lambda _match: block, text, count=1)
    return f"{text.rstrip()}\n\n{block}" if text.strip() else block


def sections(text: str, prefix: str) -> list[str]:
    """Every whole marked section (markers included) whose name starts with `prefix`, in file order."""
    found = re.finditer(rf"<!-- ({re.escape(prefix)}[\w.-]*) -->\n.*?<!-- /\1 -->\n?", text, re.DOTALL)
    return [match[0] for match in found]
