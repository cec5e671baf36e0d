"""SQS: the dead-letter queue that receives every event the Lambdas failed on, so none disappears."""

from __future__ import annotations

from botocore.exceptions import ClientError

from kit.aws import has_code, is_subset
from kit.narrate import CREATED, UNCHANGED, updated

DLQ_ATTRIBUTES = {
    "MessageRetentionPeriod": str(14 * 24 * 3600),  # the maximum: two weeks to look at failures
    "SqsManagedSseEnabled": "true",
}


def get_queue_url(sqs, name: str) -> str | None:
    try:
        return sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as error:
        if has_code(error, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            return None
        raise


def ensure_queue(sqs, name: str, *, tags: dict[str, str], attributes: dict[str, str] = DLQ_ATTRIBUTES):
    """-> ((url, arn), outcome)."""
    url = get_queue_url(sqs, name)
    if url is None:
        url = sqs.create_queue(QueueName=name, Attributes=attributes, tags=tags)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return (url, arn), CREATED
    current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    changes = []
    if not is_subset(attributes, current):
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        changes.append("attributes")
    if not is_subset(tags, sqs.list_queue_tags(QueueUrl=url).get("Tags", {})):
        sqs.tag_queue(QueueUrl=url, Tags=tags)
        changes.append("tags")
    return (url, current["QueueArn"]), updated(*changes) if changes else UNCHANGED


def delete_queue_if_exists(sqs, name: str) -> bool:
    url = get_queue_url(sqs, name)
    if url is None:
        return False
    sqs.delete_queue(QueueUrl=url)
    return True
