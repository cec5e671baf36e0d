"""Athena: the stack's workgroup, which fixes where results go and how much one query may scan (P14)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from kit.aws import has_code, is_subset, tag_dict, tag_list
from kit.narrate import CREATED, UNCHANGED, updated

ENGINE_VERSION = "Athena engine version 3"
MIN_CUTOFF_BYTES = 10 * 1024 * 1024  # Athena's smallest BytesScannedCutoffPerQuery


def workgroup_configuration(output_location: str, cutoff_bytes: int) -> dict:
    return {
        "ResultConfiguration": {
            "OutputLocation": output_location,
            "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
        },
        "EnforceWorkGroupConfiguration": True,
        "PublishCloudWatchMetricsEnabled": True,
        "BytesScannedCutoffPerQuery": cutoff_bytes,
        "EngineVersion": {"SelectedEngineVersion": ENGINE_VERSION},
    }


def get_work_group(athena, name: str) -> dict | None:
    try:
        # AWS answers a missing workgroup with InvalidRequestException; moto with an empty body.
        return athena.get_work_group(WorkGroup=name).get("WorkGroup") or None
    except ClientError as error:
        if has_code(error, "InvalidRequestException", "ResourceNotFoundException"):
            return None
        raise


def ensure_work_group(
    athena, name: str, *, arn: str, configuration: dict, description: str, tags: dict[str, str]
) -> tuple[dict, str]:
    current = get_work_group(athena, name)
    if current is None:
        athena.create_work_group(Name=name, Configuration=configuration, Description=description, Tags=tag_list(tags))
        return get_work_group(athena, name), CREATED
    changes = []
    if not is_subset(configuration, current.get("Configuration", {})):
        athena.update_work_group(
            WorkGroup=name,
            ConfigurationUpdates={
                "ResultConfigurationUpdates": configuration["ResultConfiguration"],
                "EnforceWorkGroupConfiguration": configuration["EnforceWorkGroupConfiguration"],
                "PublishCloudWatchMetricsEnabled": configuration["PublishCloudWatchMetricsEnabled"],
                "BytesScannedCutoffPerQuery": configuration["BytesScannedCutoffPerQuery"],
                "EngineVersion": configuration["EngineVersion"],
            },
        )
        changes.append("configuration")
    if not is_subset(tags, tag_dict(athena.list_tags_for_resource(ResourceARN=arn).get("Tags"))):
        athena.tag_resource(ResourceARN=arn, Tags=tag_list(tags))
        changes.append("tags")
    return current, updated(*changes) if changes else UNCHANGED


def delete_work_group_if_exists(athena, name: str) -> bool:
    if get_work_group(athena, name) is None:
        return False
    athena.delete_work_group(WorkGroup=name, RecursiveDeleteOption=True)
    return True


def list_tags_for_resource(athena, arn: str) -> dict[str, str]:
    return tag_dict(athena.list_tags_for_resource(ResourceARN=arn).get("Tags"))
