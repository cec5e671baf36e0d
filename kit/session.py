"""The boto3 session the scripts use: region resolution, a credentials check before any call, and a call log.

The same code runs against AWS and localaws: AWS_ENDPOINT_URL (read by boto3 itself) is the only difference.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ProfileNotFound

from kit.stack import DEFAULT_REGION


class CredentialsMissing(RuntimeError):
    """No AWS credentials are configured; the message names the ways to get some."""


NO_CREDENTIALS = """No AWS credentials found, so nothing was called.
Choose one:
  - your AWS account: run `aws configure` (or `aws configure sso`), or set AWS_PROFILE to a configured profile,
    or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY;
  - no AWS account: `make demo` runs the whole pipeline locally on localaws (set AWS_ENDPOINT_URL to use it here)."""


def is_mutating(operation: str) -> bool:
    """Whether an API operation changes anything (reads are Get*, List*, Describe*, Head*...)."""
    return not operation.startswith(("Get", "List", "Describe", "Head", "Lookup", "Search", "BatchGet"))


@dataclass
class CallLog:
    """Every API call the session's clients make, as (service, operation, params), in order."""

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def record(self, model, params, **_: Any) -> None:
        self.calls.append((model.service_model.signing_name, model.name, params))

    @property
    def last(self) -> tuple[str, str, dict[str, Any]] | None:
        return self.calls[-1] if self.calls else None

    def mutating(self) -> list[tuple[str, str]]:
        return [(service, operation) for service, operation, _ in self.calls if is_mutating(operation)]


def resolve_region(session: boto3.Session, explicit: str | None = None) -> tuple[str, str]:
    """-> (region, where it came from)."""
    if explicit:
        return explicit, "--region"
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(name):
            return os.environ[name], name
    if session.region_name:
        return session.region_name, f"profile {session.profile_name}"
    return DEFAULT_REGION, "default (set AWS_REGION or --region to change it)"


def open_session(profile: str | None = None, region: str | None = None) -> tuple[boto3.Session, str, str]:
    """-> (session in the resolved region, region, where the region came from). Makes no API call."""
    try:
        base = boto3.Session(profile_name=profile) if profile else boto3.Session()
    except ProfileNotFound as error:
        raise CredentialsMissing(f"{error}.\n{NO_CREDENTIALS}") from error
    resolved, source = resolve_region(base, region)
    session = (
        boto3.Session(profile_name=profile, region_name=resolved) if profile else boto3.Session(region_name=resolved)
    )
    return session, resolved, source


def check_credentials(session: boto3.Session) -> None:
    """Stop before any API call when no credentials are configured."""
    if session.get_credentials() is None:
        raise CredentialsMissing(NO_CREDENTIALS)


def endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL") or None


class Clients:
    """One client per service, created on first use from one session (so one call log sees every call)."""

    def __init__(self, session: boto3.Session, call_log: CallLog | None = None) -> None:
        self.session = session
        self.call_log = call_log or CallLog()
        session.events.register("before-call.*.*", self.call_log.record)
        self._clients: dict[str, Any] = {}

    def __getattr__(self, service: str) -> Any:
        name = {"lambda_": "lambda", "tagging": "resourcegroupstaggingapi"}.get(service, service)
        if name not in self._clients:
            self._clients[name] = self.session.client(name)
        return self._clients[name]

    def account(self) -> str:
        return self.sts.get_caller_identity()["Account"]
