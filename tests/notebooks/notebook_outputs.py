"""Read an executed notebook's outputs the way a reader sees them: the printed text and the tables, per cell id."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nbformat

OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>")
# A value cut short: a letter or digit directly followed by an ellipsis (pandas' and our own truncation marks). A
# narrated step ("[3/13] Deleting the functions…", alone on its line) is in progress, not cut.
CUT_VALUE = re.compile(r"^(?!\[\d+/\d+\] ).*?[A-Za-z0-9](?:\.\.\.|…)(?![.\w])", re.MULTILINE)


class _Tables(HTMLParser):
    """Every <table> in an HTML output as a list of rows of cell texts (header rows included)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def cell(notebook: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    return next(item for item in notebook.cells if item.get("id") == cell_id)


def text(notebook: nbformat.NotebookNode, cell_id: str) -> str:
    """What a cell printed, plus the plain-text form of its results."""
    parts = []
    for output in cell(notebook, cell_id).get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output and "text/plain" in output.data:
            parts.append(output.data["text/plain"])
    return "\n".join(parts)


def tables(notebook: nbformat.NotebookNode, cell_id: str) -> list[list[dict[str, str]]]:
    """Each HTML table a cell shows, as a list of {column: text} rows (a DataFrame's index column is named '')."""
    found = []
    for output in cell(notebook, cell_id).get("outputs", []):
        html = output.get("data", {}).get("text/html")
        if not html:
            continue
        parser = _Tables()
        parser.feed(html)
        for rows in parser.tables:
            header, *body = rows
            found.append([dict(zip(header, row, strict=False)) for row in body if len(row) == len(header)])
    return found


def table(notebook: nbformat.NotebookNode, cell_id: str) -> list[dict[str, str]]:
    """The one table a cell shows."""
    shown = tables(notebook, cell_id)
    assert len(shown) == 1, f"cell {cell_id} shows {len(shown)} tables"
    return shown[0]


def all_output_text(notebook: nbformat.NotebookNode) -> str:
    """Every output of every cell (text and HTML), for checks over the whole notebook."""
    parts = []
    for item in notebook.cells:
        for output in item.get("outputs", []):
            if output.output_type == "stream":
                parts.append(output.text)
            for kind in ("text/plain", "text/html"):
                if kind in output.get("data", {}):
                    parts.append(output.data[kind])
    return "\n".join(parts)
