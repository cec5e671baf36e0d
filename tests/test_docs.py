"""The docs the README and notebooks point to exist and stay true: every pitfall P1-P16 is defined with its symptom,
cause, fix, the kit's answer, a test that exists, and a public source; every notebook that cites one links there."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PITFALLS = ROOT / "docs" / "pitfalls.md"
_SECTION = re.compile(r"^### (P\d+)\. ", re.MULTILINE)
_TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def _sections() -> dict[str, str]:
    text = PITFALLS.read_text(encoding="utf-8")
    starts = [(match[1], match.start()) for match in _SECTION.finditer(text)]
    ends = [start for _, start in starts[1:]] + [text.index("\n---", starts[-1][1])]
    return {name: text[start:end] for (name, start), end in zip(starts, ends, strict=True)}


def test_every_pitfall_p1_to_p16_is_defined_once_in_order():
    assert list(_sections()) == [f"P{n}" for n in range(1, 17)]


@pytest.mark.parametrize("name", [f"P{n}" for n in range(1, 17)])
def test_each_pitfall_has_symptom_cause_fix_kit_tests_and_a_public_source(name):
    section = _sections()[name]
    for field in ("**Symptom:**", "**Cause:**", "**Fix:**", "**In the kit:**", "**Tests:**", "**Source:**"):
        assert field in section, f"{name} lacks {field}"
    assert _TEST_REF.search(section), f"{name} names no test"
    source = section.split("**Source:**", 1)[1]
    assert "https://" in source or re.search(r"[\w-]+/[\w.-]+(#| PR #)\d+", source), f"{name} has no public source"


def test_every_test_the_pitfalls_name_exists():
    for path, name in _TEST_REF.findall(PITFALLS.read_text(encoding="utf-8")):
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        defined = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        assert name in defined, f"{path}::{name} named in docs/pitfalls.md does not exist"


def test_readme_and_every_notebook_that_cites_a_pitfall_link_to_the_list():
    assert "docs/pitfalls.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        markdown = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")
        if re.search(r"\bP(1[0-6]|[1-9])\b", markdown):
            assert "../docs/pitfalls.md" in markdown, f"{path.name} cites pitfalls without linking docs/pitfalls.md"


def test_readme_table_ddl_names_as_supported_only_the_stored_as_formats_localaws_reads():
    """The README listed `STORED AS PARQUET|TEXTFILE|ORC|AVRO` as supported while saying ORC and Avro are not: they
    register and fail when queried (tests/localaws/test_athena_text_ddl.py), so they belong with the unsupported."""
    from localaws.athena.create_table import STORED_AS

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("#### Table DDL: what localaws supports")
    supported, unsupported = text[start:].split("\nNot supported:\n", 1)
    unsupported = unsupported.split("\n#", 1)[0]
    named = {name for group in re.findall(r"`STORED AS ([A-Z|]+)`", supported) for name in group.split("|")}
    assert named == {"PARQUET", "TEXTFILE"}
    for name in set(STORED_AS) - named:
        assert f"`STORED AS {name}`" in unsupported
