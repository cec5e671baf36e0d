"""What AWS rejects at CreateCrawler / UpdateCrawler, rejected here with AWS's error shape (moto accepts both).

- A role Glue cannot assume: missing, or whose trust policy does not name glue.amazonaws.com. AWS answers
  InvalidInputException "Service is unable to assume provided role. Please verify role's TrustPolicy." for both
  (pitfall P4; the same words while a new role propagates, which is why clients retry on them).
- "Crawl new folders only" with a SchemaChangePolicy other than LOG/LOG
  (https://docs.aws.amazon.com/glue/latest/dg/incremental-crawls.html).
"""

from __future__ import annotations

import json
from typing import Any

from moto.iam.models import iam_backends

from localaws.glue_crawler import moto_state

GLUE_PRINCIPAL = "glue.amazonaws.com"
ROLE_NOT_ASSUMABLE = "Service is unable to assume provided role. Please verify role's TrustPolicy."
NEW_FOLDERS_ONLY_NEEDS_LOG = (
    'The SchemaChangePolicy for "Crawl new folders only" Amazon S3 target can have only LOG DeleteBehavior value '
    "and LOG UpdateBehavior value."
)


def crawler_definition(body: dict[str, Any], operation: str, account_id: str, region: str) -> dict[str, Any]:
    """The crawler as it would be after the call: UpdateCrawler changes only the fields it names."""
    if operation != "UpdateCrawler":
        return body
    stored = moto_state.stored_crawler(account_id, region, body.get("Name", ""))
    return {**stored, **{key: value for key, value in body.items() if value}}


def recrawl_policy_error(crawler: dict[str, Any]) -> str | None:
    recrawl = (crawler.get("RecrawlPolicy") or {}).get("RecrawlBehavior", "CRAWL_EVERYTHING")
    policy = crawler.get("SchemaChangePolicy") or {}
    behaviors = (
        policy.get("UpdateBehavior", "UPDATE_IN_DATABASE"),
        policy.get("DeleteBehavior", "DEPRECATE_IN_DATABASE"),
    )
    if recrawl == "CRAWL_NEW_FOLDERS_ONLY" and behaviors != ("LOG", "LOG"):
        return NEW_FOLDERS_ONLY_NEEDS_LOG
    return None


def role_error(role: str | None, account_id: str) -> str | None:
    """None when Glue could assume `role` (a name, a path/name or an ARN); call with the moto lock held."""
    if not role:
        return None
    name = role.rsplit("/", 1)[-1]
    found = next((r for r in iam_backends[account_id]["aws"].roles.values() if r.name == name), None)
    if found is None or not trusts_glue(found.assume_role_policy_document):
        return ROLE_NOT_ASSUMABLE
    return None


def trusts_glue(document: str | dict) -> bool:
    policy = json.loads(document) if isinstance(document, str) else document
    statements = policy.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = _as_list(statement.get("Action"))
        services = (
            _as_list((statement.get("Principal") or {}).get("Service"))
            if isinstance(statement.get("Principal"), dict)
            else []
        )
        allows_assume = any(action in ("sts:AssumeRole", "sts:*", "*") for action in actions)
        if statement.get("Effect") == "Allow" and allows_assume and GLUE_PRINCIPAL in services:
            return True
    return False


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
