"""Lambda: the functions, their asynchronous invocation settings, and S3's permission to invoke them.

Waits use the function_active_v2 / function_updated_v2 waiters. IAM is eventually consistent, so creating a function
right after its role retries, a bounded number of times, on the one message that means "not propagated yet" (P4).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from kit.aws import error_message, has_code, is_subset
from kit.narrate import CREATED, UNCHANGED, updated
from kit.waiting import retry_while, wait_until

log = logging.getLogger(__name__)

ROLE_NOT_READY = "cannot be assumed by Lambda"  # InvalidParameterValueException while a new role propagates
DESTINATION_NOT_READY = "does not have permissions"  # the execution role's sqs:SendMessage not yet visible


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    role_arn: str
    handler: str
    runtime: str
    architecture: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]
    layers: tuple[str, ...]
    description: str
    tags: dict[str, str] = field(default_factory=dict)
    ephemeral_storage_mb: int = 512  # /tmp: 512 (Lambda's default) to 10240 MB

    def configuration(self) -> dict:
        """The settings update_function_configuration takes (architecture goes with the code)."""
        return {
            "Role": self.role_arn,
            "Handler": self.handler,
            "Runtime": self.runtime,
            "MemorySize": self.memory_mb,
            "Timeout": self.timeout_s,
            "Environment": {"Variables": dict(self.environment)},
            "Layers": list(self.layers),
            "Description": self.description,
            "EphemeralStorage": {"Size": self.ephemeral_storage_mb},
        }


def _propagating(message: str):
    def is_transient(error: ClientError) -> bool:
        return has_code(error, "InvalidParameterValueException") and message in error_message(error)

    return is_transient


def get_function(lam, name: str) -> dict | None:
    """{'Configuration': ..., 'Tags': ...} or None."""
    try:
        return lam.get_function(FunctionName=name)
    except ClientError as error:
        if has_code(error, "ResourceNotFoundException"):
            return None
        raise


def _config_differences(spec: FunctionSpec, current: dict) -> list[str]:
    wanted = spec.configuration()
    actual = {
        "Role": current.get("Role"),
        "Handler": current.get("Handler"),
        "Runtime": current.get("Runtime"),
        "MemorySize": current.get("MemorySize"),
        "Timeout": current.get("Timeout"),
        "Environment": {"Variables": current.get("Environment", {}).get("Variables", {})},
        "Layers": [layer["Arn"] for layer in current.get("Layers", [])],
        "Description": current.get("Description", ""),
        "EphemeralStorage": {"Size": current.get("EphemeralStorage", {}).get("Size", 512)},
    }
    return [key for key in wanted if wanted[key] != actual[key]]


def ensure_function(lam, spec: FunctionSpec, zip_bytes: bytes, code_sha256: str) -> tuple[dict, str]:
    """Create the function, or update in place only its code (CodeSha256 differs) and the settings that differ."""
    current = get_function(lam, spec.name)
    if current is None:
        created = retry_while(
            lambda: lam.create_function(
                FunctionName=spec.name,
                Code={"ZipFile": zip_bytes},
                Architectures=[spec.architecture],
                Publish=False,
                Tags=spec.tags,
                **spec.configuration(),
            ),
            is_transient=_propagating(ROLE_NOT_READY),
            what=f"create function {spec.name}",
        )
        lam.get_waiter("function_active_v2").wait(FunctionName=spec.name)
        return created, CREATED
    config = current["Configuration"]
    wait_until_updatable(lam, spec.name, config)
    changes = []
    if config.get("CodeSha256") != code_sha256 or config.get("Architectures", ["x86_64"]) != [spec.architecture]:
        lam.update_function_code(FunctionName=spec.name, ZipFile=zip_bytes, Architectures=[spec.architecture])
        lam.get_waiter("function_updated_v2").wait(FunctionName=spec.name)
        changes.append("code")
    differences = _config_differences(spec, config)
    if differences:
        wanted = spec.configuration()
        retry_while(
            lambda: lam.update_function_configuration(
                FunctionName=spec.name, **{key: wanted[key] for key in differences}
            ),
            is_transient=_propagating(ROLE_NOT_READY),
            what=f"update function {spec.name}",
        )
        lam.get_waiter("function_updated_v2").wait(FunctionName=spec.name)
        changes.extend(differences)
    if not is_subset(spec.tags, current.get("Tags", {})):
        lam.tag_resource(Resource=config["FunctionArn"], Tags=spec.tags)
        changes.append("tags")
    return config, updated(*changes) if changes else UNCHANGED


def wait_until_updatable(lam, name: str, config: dict) -> None:
    """Waits out a creation or an update still in progress (an earlier, interrupted run may have left one), since
    Lambda rejects UpdateFunctionCode/UpdateFunctionConfiguration meanwhile with ResourceConflictException:
    https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html (State Pending, LastUpdateStatus InProgress).
    A function whose last update Failed may be updated again, so that state is not waited on."""
    if config.get("State") == "Pending":
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
    if config.get("LastUpdateStatus") == "InProgress":
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)


def get_function_event_invoke_config(lam, name: str) -> dict | None:
    try:
        return lam.get_function_event_invoke_config(FunctionName=name)
    except ClientError as error:
        if has_code(error, "ResourceNotFoundException"):
            return None
        raise


def ensure_function_event_invoke_config(
    lam, name: str, *, retries: int, max_event_age_s: int, on_failure_arn: str
) -> tuple[dict, str]:
    """Asynchronous invocation: bounded retries and event age, then the event goes to the dead-letter queue."""
    wanted = {
        "MaximumRetryAttempts": retries,
        "MaximumEventAgeInSeconds": max_event_age_s,
        "DestinationConfig": {"OnFailure": {"Destination": on_failure_arn}},
    }
    current = get_function_event_invoke_config(lam, name)
    if current is not None and is_subset(wanted, current):
        return current, UNCHANGED
    result = retry_while(
        lambda: lam.put_function_event_invoke_config(FunctionName=name, **wanted),
        is_transient=_propagating(DESTINATION_NOT_READY),
        what=f"set the on-failure destination of {name}",
    )
    return result, CREATED if current is None else updated("retries, event age, destination")


def _statement(lam, name: str, statement_id: str) -> dict | None:
    try:
        policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    except ClientError as error:
        if has_code(error, "ResourceNotFoundException"):
            return None
        raise
    return next((item for item in policy.get("Statement", []) if item.get("Sid") == statement_id), None)


def ensure_s3_invoke_permission(lam, name: str, *, statement_id: str, bucket_arn: str, account: str) -> tuple[str, str]:
    """Let s3.amazonaws.com invoke the function, only for this bucket in this account (SourceArn + SourceAccount)."""
    statement = _statement(lam, name, statement_id)
    if statement is not None:
        conditions = json.dumps(statement.get("Condition", {}))
        if bucket_arn in conditions and account in conditions:
            return statement_id, UNCHANGED
        lam.remove_permission(FunctionName=name, StatementId=statement_id)
    lam.add_permission(
        FunctionName=name,
        StatementId=statement_id,
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=bucket_arn,
        SourceAccount=account,
    )
    return statement_id, CREATED if statement is None else updated("source")


def remove_permission_if_exists(lam, name: str, statement_id: str) -> bool:
    if get_function(lam, name) is None or _statement(lam, name, statement_id) is None:
        return False
    lam.remove_permission(FunctionName=name, StatementId=statement_id)
    return True


def delete_function_event_invoke_config_if_exists(lam, name: str) -> bool:
    if get_function_event_invoke_config(lam, name) is None:
        return False
    lam.delete_function_event_invoke_config(FunctionName=name)
    return True


def delete_function_if_exists(lam, name: str) -> bool:
    if get_function(lam, name) is None:
        return False
    lam.delete_function(FunctionName=name)
    return True


# --- the SQS event source mapping and reserved concurrency ----------------------------------------------------------
QUEUE_ROLE_NOT_READY = "does not have permissions"  # the role's sqs:ReceiveMessage not yet visible (P4)
UNRESERVED_MINIMUM = "below its minimum value"  # the account keeps this much unreserved (10 on a new account)


def get_event_source_mapping(lam, name: str, source_arn: str) -> dict | None:
    """The mapping from `source_arn` (a queue) to the function, or None."""
    found = lam.list_event_source_mappings(FunctionName=name, EventSourceArn=source_arn)["EventSourceMappings"]
    return found[0] if found else None


def _mapping_state(lam, uuid: str) -> str:
    try:
        return lam.get_event_source_mapping(UUID=uuid)["State"]
    except ClientError as error:
        if has_code(error, "ResourceNotFoundException"):
            return "Deleted"
        raise


def ensure_event_source_mapping(
    lam, name: str, source_arn: str, *, settings: dict, tags: dict[str, str]
) -> tuple[dict, str]:
    """The function polls the queue with `settings` (BatchSize, MaximumBatchingWindowInSeconds,
    FunctionResponseTypes, ScalingConfig...); waits until the mapping is Enabled. An empty value ({}) means "none":
    it is left out of a new mapping and removes the setting from an existing one (API_ScalingConfig.html: "To remove
    the configuration, pass an empty value"). Lambda checks on creation that the function's role may receive from the
    queue and that the function timeout is within the queue's visibility timeout:
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"""
    current = get_event_source_mapping(lam, name, source_arn)
    if current is None:
        given = {key: value for key, value in settings.items() if value != {}}
        created = retry_while(
            lambda: lam.create_event_source_mapping(
                FunctionName=name, EventSourceArn=source_arn, Enabled=True, Tags=tags, **given
            ),
            is_transient=_propagating(QUEUE_ROLE_NOT_READY),
            what=f"map the queue to {name}",
        )
        wait_until(lambda: _mapping_state(lam, created["UUID"]), what=f"mapping to {name}", success={"Enabled"})
        return created, CREATED
    wanted = dict(settings)
    differences = [key for key in wanted if _mapping_differs(wanted[key], current.get(key))]
    if current.get("State") == "Disabled":  # the mapping reports State, not Enabled
        wanted["Enabled"] = True
        differences.append("Enabled")
    if not differences:
        return current, UNCHANGED
    wait_until(lambda: _mapping_state(lam, current["UUID"]), what=f"mapping to {name}", success={"Enabled", "Disabled"})
    lam.update_event_source_mapping(UUID=current["UUID"], FunctionName=name, **{k: wanted[k] for k in differences})
    wait_until(lambda: _mapping_state(lam, current["UUID"]), what=f"mapping to {name}", success={"Enabled"})
    return current, updated(*differences)


def _mapping_differs(wanted: Any, current: Any) -> bool:
    if wanted == {}:  # "none": differs only while the mapping has one
        return bool(current)
    return not is_subset(wanted, current)


def delete_event_source_mapping_if_exists(lam, name: str, source_arn: str) -> bool:
    """Deletes the mapping and waits until it is gone (it passes through Deleting)."""
    if get_function(lam, name) is None:
        return False
    current = get_event_source_mapping(lam, name, source_arn)
    if current is None:
        return False
    lam.delete_event_source_mapping(UUID=current["UUID"])
    wait_until(lambda: _mapping_state(lam, current["UUID"]), what=f"mapping to {name} deleted", success={"Deleted"})
    return True


def get_function_concurrency(lam, name: str) -> int | None:
    """The function's reserved concurrency, or None when it has none."""
    return lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")


def ensure_function_concurrency(lam, name: str, reserved: int) -> tuple[int | None, str]:
    """Reserve `reserved` concurrent executions (also their maximum). (None, reason) when the account cannot spare
    them: AWS keeps at least 10 unreserved, so an account whose quota is 10 (new accounts) can reserve nothing
    (InvalidParameterValueException "...decreases account's UnreservedConcurrentExecution below its minimum value"):
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html"""
    if get_function_concurrency(lam, name) == reserved:
        return reserved, UNCHANGED
    try:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)
    except ClientError as error:
        if has_code(error, "InvalidParameterValueException") and UNRESERVED_MINIMUM in error_message(error):
            return None, f"not reserved: {error_message(error)}"
        raise
    return reserved, CREATED


def delete_function_concurrency_if_exists(lam, name: str) -> bool:
    if get_function(lam, name) is None or get_function_concurrency(lam, name) is None:
        return False
    lam.delete_function_concurrency(FunctionName=name)
    return True
