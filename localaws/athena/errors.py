"""A failed query, as Athena reports it: StateChangeReason plus AthenaError.

https://docs.aws.amazon.com/athena/latest/APIReference/API_AthenaError.html (ErrorCategory 1 system, 2 user, 3 other)
"""

from __future__ import annotations

SYSTEM, USER, OTHER = 1, 2, 3


class QueryFailed(Exception):
    """Ends a query in State FAILED with `message` as its StateChangeReason."""

    def __init__(self, message: str, category: int = USER, error_type: int = 1006, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.error_type = error_type
        self.retryable = retryable


class QueryCancelled(Exception):
    """StopQueryExecution interrupted the query."""


def position(node) -> str:
    """Athena's 'line L:C' prefix for a parsed node (sqlglot keeps the line and the token's last column)."""
    meta = getattr(node, "meta", None) or {}
    identifier = getattr(node, "this", None)
    meta = meta or getattr(identifier, "meta", None) or {}
    line, col = meta.get("line"), meta.get("col")
    if line is None or col is None:
        return ""
    text = node.name if hasattr(node, "name") else ""
    quotes = 2 if getattr(identifier, "args", {}).get("quoted") or getattr(node, "args", {}).get("quoted") else 0
    return f"line {line}:{max(1, col - len(text) - quotes + 1)}: "
