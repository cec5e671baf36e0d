"""Arm and disarm localaws's Lambda fault injection (localaws/lambda_runtime/faults.py) from a test."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def _call(endpoint: str, method: str, query: str = "", body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{endpoint}/_localaws/lambda-faults{query}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def arm(endpoint: str, function: str, operation: str, **fields: Any) -> str:
    """Kill `function`'s worker at its Nth `operation` call (fields as in faults.py); returns the fault id."""
    return _call(endpoint, "POST", body={"FunctionName": function, "Operation": operation, **fields})["FaultId"]


def armed(endpoint: str) -> list[dict[str, Any]]:
    return _call(endpoint, "GET")["Faults"]


def disarm(endpoint: str, function: str) -> None:
    _call(endpoint, "DELETE", f"?FunctionName={function}")
