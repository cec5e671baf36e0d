"""What each principal did, as IAM saw it: the input of the least-privilege report (report.py).

A principal is keyed by its role (every session of a role counts for the role) or by its user ARN.
"""

from __future__ import annotations

import threading
from collections import Counter

from localaws.iam.evaluation import Principal


class Usage:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, Counter[tuple[str, str, bool]]] = {}

    def record(self, principal: Principal, action: str, resource: str, allowed: bool) -> None:
        key = principal.role_arn or principal.arn
        with self._lock:
            self._calls.setdefault(key, Counter())[(action, resource, allowed)] += 1

    def as_json(self) -> dict:
        """{"principals": {arn: [{"action", "resource", "allowed", "count"}, ...]}}"""
        with self._lock:
            return {
                "principals": {
                    arn: [
                        {"action": a, "resource": r, "allowed": ok, "count": n}
                        for (a, r, ok), n in sorted(calls.items())
                    ]
                    for arn, calls in sorted(self._calls.items())
                }
            }
