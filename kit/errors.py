"""Turn an AWS error into one message that says what failed and what to do next (used only by the scripts)."""

from __future__ import annotations

import re

from botocore.exceptions import ClientError

from kit.aws import error_code, error_message

ACCESS_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "UnrecognizedClientException",
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


def _resource(params: dict) -> str:
    for key in _RESOURCE_KEYS:
        if key in params:
            return str(params[key])
    return "(see the message)"


def explain(error: ClientError, step: str, last_call: tuple[str, str, dict] | None, *, script: str) -> str:
    """AccessDenied names the action, the resource and the permission; anything else names the failed step."""
    code, message = error_code(error), error_message(error)
    service, operation, params = last_call or ("", error.operation_name, {})
    if code in ACCESS_DENIED:
        match = _NOT_AUTHORIZED.search(message)
        action = match["action"] if match else f"{service}:{operation}"
        resource = match["resource"] if match else _resource(params)
        return (
            f"Access denied at {step}: {operation} on {resource} was refused ({code}).\n"
            f"Your identity needs the IAM permission {action} on {resource}. Ask an administrator to grant it "
            f"(or use a profile that has it: AWS_PROFILE=...), then re-run `python {script}`; it resumes where it "
            f"stopped.\nAWS said: {message}"
        )
    return (
        f"Failed at {step}: {operation} returned {code}: {message}\n"
        f"Nothing done so far is lost: fix the cause and re-run `python {script}`; it resumes from this step."
    )
