"""One small function per AWS action, named after the API verb, with the client passed in.

`get_*` returns None when the resource is missing, `ensure_*` returns (thing, outcome) and changes only what
differs, `delete_*_if_exists` returns whether it deleted anything.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def error_message(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Message", "")


def has_code(error: ClientError, *codes: str) -> bool:
    return error_code(error) in codes


def is_subset(desired: Any, actual: Any) -> bool:
    """Whether every key and value of `desired` appears in `actual` (lists compared in order, recursively).

    AWS echoes settings back with extra defaults; comparing only what we set keeps re-runs free of needless writes.
    """
    if isinstance(desired, dict):
        return isinstance(actual, dict) and all(
            key in actual and is_subset(value, actual[key]) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(actual, list)
            and len(desired) == len(actual)
            and all(is_subset(d, a) for d, a in zip(desired, actual, strict=True))
        )
    return desired == actual


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or []}
