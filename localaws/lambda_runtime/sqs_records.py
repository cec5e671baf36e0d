"""The SQS event a Lambda event source mapping sends, and how it reads the function's answer.

https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (the event)
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html (partial batch responses)
Pure functions over moto's Message (moto.sqs.models).
"""

from __future__ import annotations

import base64
import json
from typing import Any

MAX_PAYLOAD = 6 * 1024 * 1024  # a batch stops gathering at 6 MB, Lambda's synchronous payload limit


def record(message: Any, queue_arn: str, region: str) -> dict[str, Any]:
    """One element of Records[] for a received moto Message."""
    attributes = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": str(message.sender_id),
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    if message.sequence_number is not None:  # FIFO queues
        attributes.update(
            SequenceNumber=str(message.sequence_number),
            MessageGroupId=str(message.group_id),
            MessageDeduplicationId=str(message.deduplication_id),
        )
    entry: dict[str, Any] = {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": {name: _attribute(value) for name, value in message.message_attributes.items()},
        "md5OfBody": message.body_md5,
    }
    if message.message_attributes:
        entry["md5OfMessageAttributes"] = message.attribute_md5
    entry.update(eventSource="aws:sqs", eventSourceARN=queue_arn, awsRegion=region)
    return entry


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute as the event spells it (camelCase, list fields always present)."""
    converted: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value.get("DataType")}
    if value.get("StringValue") is not None:
        converted["stringValue"] = value["StringValue"]
    if value.get("BinaryValue") is not None:
        binary = value["BinaryValue"]
        converted["binaryValue"] = binary if isinstance(binary, str) else base64.b64encode(binary).decode()
    return converted


def record_size(entry: dict[str, Any]) -> int:
    """Bytes this record adds to the event's JSON."""
    return len(json.dumps(entry).encode()) + 1


def failed_message_ids(payload: bytes, batch_ids: list[str]) -> list[str]:
    """The messages to retry, from the function's response when ReportBatchItemFailures is on.

    services-sqs-errorhandling.html: an empty or null response, or an empty or null batchItemFailures, is a complete
    success. An invalid JSON response, an itemIdentifier that is empty, null, missing (a bad key name) or not a
    message of the batch makes the whole batch a failure.
    """
    try:
        response = json.loads(payload or b"null")
    except ValueError:
        return list(batch_ids)
    if response is None or response == {} or response == "":
        return []
    if not isinstance(response, dict):
        return list(batch_ids)
    failures = response.get("batchItemFailures")
    if failures is None or failures == []:
        return []
    if not isinstance(failures, list):
        return list(batch_ids)
    failed = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in batch_ids:
            return list(batch_ids)
        failed.append(identifier)
    return failed


def event_json(records: list[dict[str, Any]]) -> str:
    return json.dumps({"Records": records})
