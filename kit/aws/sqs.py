"""SQS: the dead-letter queues that receive every event the pipeline failed on, so none disappears, and the catalog
queue of processed/ events that the crawler trigger consumes in batches."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from kit.aws import has_code, is_subset
from kit.narrate import CREATED, UNCHANGED, updated
from kit.waiting import retry_while

# "You must wait 60 seconds after deleting a queue before you can create another queue with the same name."
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html (QueueDeletedRecently);
# botocore spells the code either way, depending on the protocol (query or JSON with awsQueryCompatible).
QUEUE_DELETED_RECENTLY = ("AWS.SimpleQueueService.QueueDeletedRecently", "QueueDeletedRecently")
DELETED_RECENTLY_RETRY = {"attempts": 8, "first_delay": 5.0, "max_delay": 20.0}  # up to ~115 s: more than 60 s

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


def create_queue(sqs, name: str, *, attributes: dict[str, str], tags: dict[str, str]) -> str:
    """The new queue's URL; waits out the 60 s during which SQS refuses a name deleted recently (a teardown)."""
    return retry_while(
        lambda: sqs.create_queue(QueueName=name, Attributes=attributes, tags=tags)["QueueUrl"],
        is_transient=lambda error: has_code(error, *QUEUE_DELETED_RECENTLY),
        what=f"create queue {name} (deleted less than 60 s ago)",
        **DELETED_RECENTLY_RETRY,
    )


JSON_ATTRIBUTES = ("Policy", "RedrivePolicy")  # compared as documents: SQS may answer them re-serialized


def catalog_queue_attributes(*, visibility_timeout_s: int, dlq_arn: str, max_receive_count: int, policy: dict):
    """The catalog queue: the visibility timeout Lambda's SQS mapping wants (>= 6x the function timeout), a redrive
    to its dead-letter queue after `max_receive_count` receives, S3's permission to send (`policy`), SSE-SQS.
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"""
    return {
        "VisibilityTimeout": str(visibility_timeout_s),
        "MessageRetentionPeriod": str(4 * 24 * 3600),  # SQS's default, said out loud: the DLQ keeps 14 days
        "SqsManagedSseEnabled": "true",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}),
        "Policy": json.dumps(policy, sort_keys=True),
    }


def _comparable(attributes: dict[str, str]) -> dict:
    def document(name: str, text: str):
        value = json.loads(text) if text else {}
        if name == "RedrivePolicy" and "maxReceiveCount" in value:
            value["maxReceiveCount"] = int(value["maxReceiveCount"])
        return value

    return {name: document(name, text) if name in JSON_ATTRIBUTES else text for name, text in attributes.items()}


def get_queue_attributes(sqs, url: str) -> dict[str, str]:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def ensure_queue(sqs, name: str, *, tags: dict[str, str], attributes: dict[str, str] = DLQ_ATTRIBUTES):
    """-> ((url, arn), outcome)."""
    url = get_queue_url(sqs, name)
    if url is None:
        url = create_queue(sqs, name, attributes=attributes, tags=tags)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return (url, arn), CREATED
    current = get_queue_attributes(sqs, url)
    changes = []
    if not is_subset(_comparable(attributes), _comparable({k: current.get(k, "") for k in attributes})):
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


def list_queue_tags(sqs, url: str) -> dict[str, str]:
    return sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
