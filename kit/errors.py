"""Turn an AWS error into one line that says what failed and what to do next (used only by the scripts).

Every script (provision.py, teardown.py, `make demo`, `make lab`) runs its main under `script_boundary`, so a
stopped endpoint, missing or expired credentials, a refused permission or a missing region ends as one line naming
the next step and a non-zero exit code, never as a traceback. Errors nobody can name still show their traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

from kit.aws import error_code, error_message

# Exit code of a script stopped by its environment (endpoint, credentials, permissions, region), as argparse uses 2.
ENVIRONMENT_EXIT_CODE = 2

ACCESS_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
}
# https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html and the per-service "common errors" pages.
BAD_CREDENTIALS = {
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "InvalidToken",
}
_NOT_AUTHORIZED = re.compile(r"not authorized to perform: (?P<action>\S+) on resource: (?P<resource>\S+)")
_RESOURCE_KEYS = (
    "Bucket",
    "FunctionName",
    "RoleName",
    "QueueName",
    "QueueUrl",
    "logGroupName",
    "WorkGroup",
    "Name",
    "DatabaseName",
)
BOUNDARY_ERRORS = (
    EndpointConnectionError,
    ConnectTimeoutError,
    NoCredentialsError,
    PartialCredentialsError,
    TokenRetrievalError,
    SSOTokenLoadError,
    UnauthorizedSSOTokenError,
    NoRegionError,
    ClientError,
)


def _resource(params: dict) -> str:
    for key in _RESOURCE_KEYS:
        if key in params:
            return str(params[key])
    return "(see the message)"


def _rerun(script: str) -> str:
    return f"`{script}`" if script.startswith("make ") else f"`.venv/bin/python {script}`"


def access_denied(error: ClientError, step: str, last_call: tuple[str, str, dict] | None, *, script: str) -> str:
    """One line: the action and resource refused, the permission needed, and how to get it."""
    service, operation, params = last_call or ("", error.operation_name, {})
    match = _NOT_AUTHORIZED.search(error_message(error))
    action = match["action"] if match else f"{service}:{operation}"
    resource = match["resource"] if match else _resource(params)
    return (
        f"Access denied at {step}: {operation} on {resource} was refused ({error_code(error)}); your identity needs "
        f"the IAM permission {action} on {resource}. Next: ask an administrator to grant it (docs/classroom.md has "
        f"the student policy) or use a profile that has it (AWS_PROFILE=...), then re-run {_rerun(script)}."
    )


def environment_problem(error: BaseException, *, script: str, step: str | None = None) -> str | None:
    """One line naming the problem and the next step, or None when `error` is not about the environment.

    Endpoint down or unknown region (EndpointConnectionError, ConnectTimeoutError), no credentials
    (NoCredentialsError, PartialCredentialsError), expired or invalid ones (ExpiredToken, InvalidClientTokenId, an
    expired SSO token...), AccessDenied, and a missing region (NoRegionError).
    """
    where = f" at {step}" if step else ""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        url = getattr(error, "kwargs", {}).get("endpoint_url", "")
        if endpoint:
            return (
                f"Nothing answers at AWS_ENDPOINT_URL={endpoint}{where}. Next: start localaws with `make localaws` "
                "in another terminal (or check AWS_ENDPOINT_URL), or unset AWS_ENDPOINT_URL to use AWS."
            )
        return (
            f"Could not reach AWS at {url or 'its endpoint'}{where}. Next: check the region name (--region or "
            "AWS_REGION) and your network; without an AWS account, `make demo` and `make lab` run on localaws."
        )
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return (
            f"No usable AWS credentials{where}. Next: run `aws configure` (or set AWS_PROFILE); without an AWS "
            "account, `make demo` and `make lab` run on localaws."
        )
    if isinstance(error, TokenRetrievalError | SSOTokenLoadError | UnauthorizedSSOTokenError):
        return f"Your AWS SSO session has expired{where}. Next: run `aws sso login` (with your --profile), then re-run."
    if isinstance(error, NoRegionError):
        return "No AWS region is configured. Next: set AWS_REGION (e.g. us-east-1) or run `aws configure`."
    if isinstance(error, ClientError):
        code = error_code(error)
        if code in BAD_CREDENTIALS:
            return (
                f"AWS refused your credentials{where} ({code}: they are expired or invalid). Next: refresh them "
                "with `aws configure` (or `aws sso login`), then re-run."
            )
        if code in ACCESS_DENIED:
            return access_denied(error, step or "the first call", None, script=script)
    return None


def explain(error: ClientError, step: str, last_call: tuple[str, str, dict] | None, *, script: str) -> str:
    """AccessDenied names the action, the resource and the permission; anything else names the failed step."""
    if error_code(error) in ACCESS_DENIED:
        return access_denied(error, step, last_call, script=script)
    problem = environment_problem(error, script=script, step=step)
    if problem:
        return problem
    _, operation, _ = last_call or ("", error.operation_name, {})
    return (
        f"Failed at {step}: {operation} returned {error_code(error)}: {error_message(error)}\n"
        f"Nothing done so far is lost: fix the cause and re-run {_rerun(script)}; it resumes from this step."
    )


def script_boundary(main: Callable[[], int], *, script: str, out: Callable[[str], None] = print) -> int:
    """Run a script's main; an endpoint, credentials, permission or region problem becomes one line and exit code 2.

    A ClientError that is not one of those is not this boundary's to explain: it propagates with its traceback.
    """
    try:
        return main()
    except BOUNDARY_ERRORS as error:
        problem = environment_problem(error, script=script)
        if problem is None:
            raise
        out(problem)
        return ENVIRONMENT_EXIT_CODE
