"""The S3 event message, in the shape S3 sends it (event version 2.1).

https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
Pure functions: the object's facts in, the JSON-ready record out.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote_plus

EVENT_VERSION = "2.1"
S3_SCHEMA_VERSION = "1.0"
SEQUENCER_WIDTH = 18  # AWS's sequencers look like "0055AED6DCD90281E5": 18 upper-case hex digits

# S3 encodes the key in event messages "application/x-www-form-urlencoded" style (the doc's "red flower.jpg" ->
# "red+flower.jpg"), except that '/' is kept (observed; minio/minio#11665, aws/aws-sam-cli#379 for '=' -> %3D).
# We follow Java's URLEncoder, which S3's encoding matches on every reported case: letters, digits and ".-*_" are kept,
# a space becomes '+', and every other byte of the UTF-8 key is percent-encoded ('+' -> %2B, '(' -> %28,
# ':' -> %3A, '=' -> %3D, '~' -> %7E). Python's quote_plus keeps '~' and encodes '*', so both are adjusted.
_KEPT = "/-_.*"


def encode_key(key: str) -> str:
    """The object key as S3 writes it into an event record."""
    return quote_plus(key, safe=_KEPT).replace("~", "%7E")


@dataclass(frozen=True)
class CreatedObject:
    """What S3 knows about an object right after it was written."""

    bucket: str
    key: str
    size: int
    etag: str  # without quotes
    version_id: str | None  # None when the bucket is not versioned
    sequencer: str


@dataclass(frozen=True)
class RemovedObject:
    """What S3 says about an object (or a version of it) a delete removed. Its events carry no eTag and no size
    (seen on AWS: aws-powertools/powertools-lambda-python#4156)."""

    bucket: str
    key: str
    version_id: str | None  # the deleted version, or the new delete marker's; None when the bucket is not versioned
    sequencer: str


@dataclass(frozen=True)
class RequestFacts:
    """Who wrote the object, from where, and the ids S3 answered with."""

    region: str
    principal_id: str
    source_ip: str
    request_id: str
    host_id: str
    owner_id: str


class Sequencer:
    """Hex sequencers that increase for every write, so that any two events for one key order correctly.

    AWS guarantees order only per key; one counter for all keys is a stronger promise that satisfies it.
    """

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns())
            return f"{self._last:0{SEQUENCER_WIDTH}X}"


def event_time(now: datetime | None = None) -> str:
    """ISO-8601 UTC with milliseconds, as in "1970-01-01T00:00:00.000Z"."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def new_request_ids() -> tuple[str, str]:
    """(x-amz-request-id, x-amz-id-2) in S3's formats: 16 upper-case hex digits, and an opaque base64 token."""
    import base64

    return secrets.token_hex(8).upper(), base64.b64encode(secrets.token_bytes(54)).decode()


def build_record(
    event_name: str,
    obj: CreatedObject | RemovedObject,
    request: RequestFacts,
    configuration_id: str,
    when: datetime | None = None,
) -> dict:
    """One element of Records[]. `event_name` is without the "s3:" prefix, e.g. "ObjectCreated:Put"."""
    s3_object: dict[str, object] = {"key": encode_key(obj.key)}
    if isinstance(obj, CreatedObject):
        s3_object.update(size=obj.size, eTag=obj.etag)
    if obj.version_id is not None:
        s3_object["versionId"] = obj.version_id
    s3_object["sequencer"] = obj.sequencer
    return {
        "eventVersion": EVENT_VERSION,
        "eventSource": "aws:s3",
        "awsRegion": request.region,
        "eventTime": event_time(when),
        "eventName": event_name,
        "userIdentity": {"principalId": request.principal_id},
        "requestParameters": {"sourceIPAddress": request.source_ip},
        "responseElements": {"x-amz-request-id": request.request_id, "x-amz-id-2": request.host_id},
        "s3": {
            "s3SchemaVersion": S3_SCHEMA_VERSION,
            "configurationId": configuration_id,
            "bucket": {
                "name": obj.bucket,
                "ownerIdentity": {"principalId": request.owner_id},
                "arn": f"arn:aws:s3:::{obj.bucket}",
            },
            "object": s3_object,
        },
    }


def build_event(
    event_name: str,
    obj: CreatedObject | RemovedObject,
    request: RequestFacts,
    configuration_id: str,
    when: datetime | None = None,
) -> dict:
    """The message S3 delivers: one record per event."""
    return {"Records": [build_record(event_name, obj, request, configuration_id, when)]}
