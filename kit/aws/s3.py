"""S3: the stack's bucket, its security settings, its notification configuration, and emptying it."""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import ClientError

from kit.aws import error_message, has_code, is_subset, tag_dict, tag_list
from kit.narrate import CREATED, UNCHANGED, updated
from kit.waiting import retry_while

log = logging.getLogger(__name__)

PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
OWNERSHIP = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
DESTINATION_NOT_VALIDATED = "Unable to validate the following destination configurations"
ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def head_bucket(s3, bucket: str) -> bool:
    """Whether the bucket exists and is ours; a 403 (someone else's bucket) is raised."""
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        if has_code(error, "404", "NoSuchBucket", "NotFound"):
            return False
        raise
    return True


def create_bucket(s3, bucket: str, region: str) -> None:
    kwargs: dict[str, Any] = {"Bucket": bucket, "ObjectOwnership": "BucketOwnerEnforced"}
    if region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)
    s3.get_waiter("bucket_exists").wait(Bucket=bucket)


def get_bucket_tags(s3, bucket: str) -> dict[str, str]:
    try:
        return tag_dict(s3.get_bucket_tagging(Bucket=bucket)["TagSet"])
    except ClientError as error:
        if has_code(error, "NoSuchTagSet", "NoSuchTagSetError"):
            return {}
        raise


def is_bucket_empty(s3, bucket: str) -> bool:
    """No object version and no delete marker."""
    page = s3.list_object_versions(Bucket=bucket, MaxKeys=1)
    return not page.get("Versions") and not page.get("DeleteMarkers")


def _get_or_none(call, missing_codes: tuple[str, ...], key: str | None = None) -> Any:
    try:
        response = call()
    except ClientError as error:
        if has_code(error, *missing_codes):
            return None
        raise
    return response[key] if key else response


def get_public_access_block(s3, bucket: str) -> dict | None:
    return _get_or_none(
        lambda: s3.get_public_access_block(Bucket=bucket),
        ("NoSuchPublicAccessBlockConfiguration",),
        "PublicAccessBlockConfiguration",
    )


def get_bucket_ownership_controls(s3, bucket: str) -> dict | None:
    return _get_or_none(
        lambda: s3.get_bucket_ownership_controls(Bucket=bucket),
        ("OwnershipControlsNotFoundError",),
        "OwnershipControls",
    )


def get_bucket_encryption(s3, bucket: str) -> dict | None:
    return _get_or_none(
        lambda: s3.get_bucket_encryption(Bucket=bucket),
        ("ServerSideEncryptionConfigurationNotFoundError",),
        "ServerSideEncryptionConfiguration",
    )


def get_bucket_policy(s3, bucket: str) -> dict | None:
    text = _get_or_none(lambda: s3.get_bucket_policy(Bucket=bucket), ("NoSuchBucketPolicy",), "Policy")
    return json.loads(text) if text else None


def get_bucket_lifecycle_rules(s3, bucket: str) -> list | None:
    return _get_or_none(
        lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket), ("NoSuchLifecycleConfiguration",), "Rules"
    )


def lifecycle_rules(results_prefix: str, days: int) -> list[dict]:
    return [
        {
            "ID": "expire-athena-results",
            "Filter": {"Prefix": results_prefix},
            "Status": "Enabled",
            "Expiration": {"Days": days},
        }
    ]


def ensure_bucket(
    s3, bucket: str, region: str, *, tags: dict[str, str], policy: dict, lifecycle: list[dict]
) -> tuple[str, str]:
    """The bucket with Block Public Access, BucketOwnerEnforced, SSE-S3, a TLS-only policy, lifecycle and tags."""
    created = not head_bucket(s3, bucket)
    if created:
        create_bucket(s3, bucket, region)
        # at once: an untagged bucket is one provision will not adopt (kit/ownership.py), unless it is empty
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_list(tags)})
    changes = []
    if not is_subset(PUBLIC_ACCESS_BLOCK, get_public_access_block(s3, bucket)):
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)
        changes.append("public access block")
    if not is_subset(OWNERSHIP, get_bucket_ownership_controls(s3, bucket)):
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=OWNERSHIP)
        changes.append("object ownership")
    if not is_subset(ENCRYPTION, get_bucket_encryption(s3, bucket)):
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=ENCRYPTION)
        changes.append("default encryption")
    if get_bucket_policy(s3, bucket) != policy:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        changes.append("TLS-only policy")
    if not is_subset(lifecycle, get_bucket_lifecycle_rules(s3, bucket)):
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": lifecycle})
        changes.append("lifecycle")
    if not is_subset(tags, get_bucket_tags(s3, bucket)):
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_list({**get_bucket_tags(s3, bucket), **tags})})
        changes.append("tags")
    if created:
        return bucket, CREATED
    return bucket, updated(*changes) if changes else UNCHANGED


# --- notifications ------------------------------------------------------------------------------------------------
# The kinds of destination a notification configuration holds, and the key naming each one's ARN.
DESTINATIONS = {
    "LambdaFunctionConfigurations": "LambdaFunctionArn",
    "QueueConfigurations": "QueueArn",
    "TopicConfigurations": "TopicArn",
}


def _filter(prefix: str, suffix: str) -> dict:
    rules = [{"Name": "prefix", "Value": prefix}] + ([{"Name": "suffix", "Value": suffix}] if suffix else [])
    return {"Key": {"FilterRules": rules}}


def lambda_notification(
    rule_id: str, function_arn: str, prefix: str, suffix: str = "", events: tuple[str, ...] = ("s3:ObjectCreated:*",)
) -> dict:
    """One LambdaFunctionConfiguration; an empty suffix is left out (S3 then matches the prefix alone)."""
    return {"Id": rule_id, "LambdaFunctionArn": function_arn, "Events": list(events), "Filter": _filter(prefix, suffix)}


def queue_notification(
    rule_id: str, queue_arn: str, prefix: str, suffix: str = "", events: tuple[str, ...] = ("s3:ObjectCreated:*",)
) -> dict:
    """One QueueConfiguration (the queue's policy must let s3.amazonaws.com send, or S3 refuses the configuration)."""
    return {"Id": rule_id, "QueueArn": queue_arn, "Events": list(events), "Filter": _filter(prefix, suffix)}


def _kind(rule: dict) -> str:
    return next(kind for kind, arn_key in DESTINATIONS.items() if arn_key in rule)


def _normalized(rule: dict) -> tuple:
    # S3 answers filter names as "Prefix"/"Suffix" whatever case was sent.
    rules = rule.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    filters = tuple(sorted((item["Name"].lower(), item["Value"]) for item in rules))
    destination = next((rule[key] for key in DESTINATIONS.values() if key in rule), None)
    return (rule.get("Id"), destination, tuple(sorted(rule.get("Events", []))), filters)


def _destination_propagating(error: ClientError) -> bool:
    # S3 checks that it may invoke each function (or send to each queue); a permission just added may not be visible
    # yet (P3).
    return has_code(error, "InvalidArgument") and DESTINATION_NOT_VALIDATED in error_message(error)


def get_bucket_notification_configuration(s3, bucket: str) -> dict:
    response = s3.get_bucket_notification_configuration(Bucket=bucket)
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


def _owned(rule: dict, owned_prefix: str) -> bool:
    return str(rule.get("Id", "")).startswith(owned_prefix)


def ensure_bucket_notification_configuration(
    s3, bucket: str, rules: list[dict], *, owned_prefix: str
) -> tuple[list[dict], str]:
    """Read-modify-write in one call: this kit's rules (Ids starting with `owned_prefix`, Lambda and queue
    destinations) replace their old selves, anything else on the bucket is kept, because
    PutBucketNotificationConfiguration replaces the whole configuration
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketNotificationConfiguration.html)."""
    current = get_bucket_notification_configuration(s3, bucket)
    ours = [rule for kind in DESTINATIONS for rule in current.get(kind, []) if _owned(rule, owned_prefix)]
    if sorted(map(_normalized, ours)) == sorted(map(_normalized, rules)):
        return rules, UNCHANGED
    desired = dict(current)
    for kind in DESTINATIONS:
        kept = [rule for rule in current.get(kind, []) if not _owned(rule, owned_prefix)]
        wanted = kept + [rule for rule in rules if _kind(rule) == kind]
        if wanted:
            desired[kind] = wanted
        else:
            desired.pop(kind, None)
    retry_while(
        lambda: s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=desired),
        is_transient=_destination_propagating,
        what=f"notification configuration of {bucket}",
    )
    return rules, CREATED if not ours else updated("filters")


def delete_bucket_notification_configuration_if_exists(s3, bucket: str, *, owned_prefix: str) -> bool:
    if not head_bucket(s3, bucket):
        return False
    current = get_bucket_notification_configuration(s3, bucket)
    if not any(_owned(rule, owned_prefix) for kind in DESTINATIONS for rule in current.get(kind, [])):
        return False
    kept = {kind: [rule for rule in current.get(kind, []) if not _owned(rule, owned_prefix)] for kind in DESTINATIONS}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={**current, **kept})
    return True


# --- emptying and deleting ----------------------------------------------------------------------------------------
def delete_all_object_versions(s3, bucket: str) -> int:
    """Delete every object, every version and every delete marker; returns how many were deleted."""
    if not head_bucket(s3, bucket):
        return 0
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        keys = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch = keys[start : start + 1000]
            response = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            if response.get("Errors"):
                first = response["Errors"][0]
                raise RuntimeError(f"could not delete s3://{bucket}/{first['Key']}: {first['Code']} {first['Message']}")
            deleted += len(batch)
    return deleted


def delete_bucket_if_exists(s3, bucket: str) -> bool:
    if not head_bucket(s3, bucket):
        return False
    s3.delete_bucket(Bucket=bucket)
    return True


def list_bucket_names(s3) -> list[str]:
    return [bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])]
