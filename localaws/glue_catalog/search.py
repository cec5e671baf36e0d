"""Glue SearchTables over moto's catalog: text search, property filters, sorting and paging.

https://docs.aws.amazon.com/glue/latest/webapi/API_SearchTables.html,
https://docs.aws.amazon.com/glue/latest/webapi/API_PropertyPredicate.html: SearchText matches a table's name,
description, parameters and columns (a quoted value matches exactly); Filters compare a table field or parameter with
EQUALS, GREATER_THAN, LESS_THAN, GREATER_THAN_EQUALS or LESS_THAN_EQUALS.
"""

from __future__ import annotations

import json
import operator
from typing import Any

from moto.backends import get_backend

from localaws.server import ACCOUNT_ID, LocalAws, Request, Response, json_error, json_response

COMPARATORS = {
    "EQUALS": operator.eq,
    "GREATER_THAN": operator.gt,
    "LESS_THAN": operator.lt,
    "GREATER_THAN_EQUALS": operator.ge,
    "LESS_THAN_EQUALS": operator.le,
}
MAX_RESULTS = 1000


def invalid(message: str) -> Response:
    return json_error("InvalidInputException", message)


def _texts(table: dict[str, Any]) -> list[str]:
    descriptor = table.get("StorageDescriptor", {})
    columns = descriptor.get("Columns", []) + table.get("PartitionKeys", [])
    texts = [table.get("Name", ""), table.get("Description", ""), table.get("DatabaseName", "")]
    texts += [f"{k} {v}" for k, v in table.get("Parameters", {}).items()]
    texts += [f"{c.get('Name', '')} {c.get('Comment', '')}" for c in columns]
    return [t.lower() for t in texts if t]


def _matches_text(table: dict[str, Any], text: str) -> bool:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        exact = text[1:-1].lower()
        return any(exact in t.split() or exact == t for t in _texts(table))
    return all(any(word in t for t in _texts(table)) for word in text.lower().split())


def _field(table: dict[str, Any], key: str) -> str | None:
    value = table.get(key, table.get("Parameters", {}).get(key))
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _matches_filters(table: dict[str, Any], filters: list[dict[str, str]]) -> bool:
    for predicate in filters:
        value = _field(table, predicate.get("Key", ""))
        compare = COMPARATORS[predicate.get("Comparator", "EQUALS")]
        if value is None or not compare(value, predicate.get("Value", "")):
            return False
    return True


def search_tables(app: LocalAws, request: Request) -> Response:
    body = request.json()
    size = int(body.get("MaxResults", MAX_RESULTS))
    if not 1 <= size <= MAX_RESULTS:
        return invalid(f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy constraint")
    filters = body.get("Filters", [])
    unknown = [p.get("Comparator") for p in filters if p.get("Comparator", "EQUALS") not in COMPARATORS]
    if unknown:
        return invalid(f"Unsupported comparator: {unknown[0]}")
    with app.moto_lock:
        backend = get_backend("glue")[ACCOUNT_ID][request.route.region]
        tables = [t.as_dict() for database in backend.databases.values() for t in database.tables.values()]
    tables = [
        t
        for t in tables
        if _matches_filters(t, filters) and (not body.get("SearchText") or _matches_text(t, body["SearchText"]))
    ]
    tables.sort(key=lambda t: (t["DatabaseName"], t["Name"]))
    for criterion in reversed(body.get("SortCriteria", [])):
        name = criterion.get("FieldName", "")
        tables.sort(key=lambda t, n=name: _field(t, n) or "", reverse=criterion.get("Sort") == "DESC")
    token = body.get("NextToken")
    start = int(token) if token and token.isdigit() else 0
    page: dict[str, Any] = {"TableList": tables[start : start + size]}
    if start + size < len(tables):
        page["NextToken"] = str(start + size)
    return json_response(page)
