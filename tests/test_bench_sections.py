"""benchmarks/marked.py: the burst benchmark's sections of results.md are replaced by burst.py and kept whole by
transform.py, which rewrites the rest of the file."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import marked


def test_a_section_is_appended_once_then_replaced_in_place() -> None:
    text = marked.replace_section("# Transform\n\nrows\n", "burst-partitions", "first\n")
    text = marked.replace_section(text, "burst-crawler", "other\n")
    text = marked.replace_section(text, "burst-partitions", "second\n")
    assert text.count("<!-- burst-partitions -->") == 1
    assert "second" in text and "first" not in text and "other" in text
    assert text.index("burst-partitions") < text.index("burst-crawler")


def test_the_burst_sections_are_what_a_rewrite_carries_over() -> None:
    text = marked.replace_section("# Transform\n", "burst-partitions", "| a | b |\n")
    text = marked.replace_section(text, "burst-crawler", "| c | d |\n")
    rewritten = "# Transform, measured again\n" + "".join(f"\n{s}" for s in marked.sections(text, "burst"))
    assert marked.sections(rewritten, "burst") == marked.sections(text, "burst")
    assert "| a | b |" in rewritten and "| c | d |" in rewritten
