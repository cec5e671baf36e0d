"""S3 event notifications, as S3 sends them: one event per object created or removed, to every matching destination.

How it fits moto:
1. moto stores the objects and the notification configuration. Its own notification sender invokes Lambda inside the
   PUT through Docker (and fails silently without it), and fires twice for a multipart upload. We replace
   `moto.s3.notifications.send_event`, the one function every moto S3 write calls, with a recorder that sends
   nothing: it notes the object just written (size, ETag, version, a sequencer taken under moto's lock) and the
   bucket's rules, for the request thread that wrote it.
2. After PutObject, CopyObject or CompleteMultipartUpload has answered 200, an after hook takes that note and
   queues exactly one event (ObjectCreated:Put / :Copy / :CompleteMultipartUpload) per matching rule.
3. Delivery (delivery.py) is asynchronous and goes through the destination's API, in-process for Lambda and SQS.
4. PutBucketNotificationConfiguration is validated first, as S3 does (validation.py). Once it is stored, moto sends
   the s3:TestEvent to each queue and topic destination (not to functions, as S3); `send_test_event` replaces moto's
   to give it S3's RequestId and HostId. Object events never come from moto (step 1), so nothing arrives twice.
5. Removals: moto notes only some deletes (not delete markers), so `S3Backend.delete_object`, which DeleteObject and
   each key of DeleteObjects go through, is wrapped: under moto's lock it notes what the delete did, with a sequencer
   from the same counter as the writes, so a PUT and a DELETE of one key order correctly. After DeleteObject or
   DeleteObjects answered 200, one event per removed key and matching rule is queued:
   - unversioned bucket: ObjectRemoved:Delete, also for a key that did not exist (S3 does not look first; MinIO
     matched this in minio/minio#19037);
   - versioned bucket, no version given: ObjectRemoved:DeleteMarkerCreated, with the delete marker's version id;
   - a version id given: ObjectRemoved:Delete with that version id.
   https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import moto.s3.notifications

from localaws.s3_events.delivery import Deliverer, Source, refusals_control
from localaws.s3_events.records import (
    CreatedObject,
    RemovedObject,
    RequestFacts,
    Sequencer,
    build_event,
    event_time,
    new_request_ids,
)
from localaws.s3_events.rules import LAMBDA, QUEUE, NotificationRule, parse_notification_xml, rules_from_moto
from localaws.s3_events.validation import UNABLE_TO_VALIDATE, ambiguity, destination_problems, invalid_argument
from localaws.server import LocalAws, Request, Response

log = logging.getLogger("localaws.s3")

OBJECT_CREATING_OPERATIONS = ("PutObject", "CopyObject", "CompleteMultipartUpload")
OBJECT_REMOVING_OPERATIONS = ("DeleteObject", "DeleteObjects")


@dataclass(frozen=True)
class _Written:
    event_name: str  # moto's, e.g. "s3:ObjectCreated:Put"
    obj: CreatedObject | RemovedObject
    region: str
    account_id: str
    rules: tuple[NotificationRule, ...]


class _WriteRecorder:
    """Stands in for moto's send_event: remembers, per thread, the last object a moto S3 call created, and every
    key its deletes removed."""

    def __init__(self, sequencer: Sequencer) -> None:
        self._sequencer = sequencer
        self._local = threading.local()

    def __call__(self, account_id: str, event_name: str, bucket, key) -> None:
        event_name = str(getattr(event_name, "value", event_name))
        if not event_name.startswith("s3:ObjectCreated:") or key is None:
            return
        version = key.version_id if key.version_id not in (None, "null") else None
        obj = CreatedObject(bucket.name, key.name, key.size, key.etag.strip('"'), version, self._sequencer.next())
        rules = tuple(rules_from_moto(bucket.notification_configuration))
        # A multipart completion records ObjectCreated:Put, then ObjectCreated:CompleteMultipartUpload: the last wins.
        self._local.written = _Written(event_name, obj, bucket.region_name, account_id, rules)

    def removed(self, account_id: str, bucket, key_name: str, version_id: str | None, meta: dict) -> None:
        """Called under moto's lock after its delete_object; `meta` holds the response headers it sets."""
        if not bucket.is_versioned:
            event_name, version = "s3:ObjectRemoved:Delete", None
        elif version_id is None:
            event_name, version = "s3:ObjectRemoved:DeleteMarkerCreated", meta.get("version-id")
        else:
            event_name, version = "s3:ObjectRemoved:Delete", version_id
        obj = RemovedObject(bucket.name, key_name, version, self._sequencer.next())
        rules = tuple(rules_from_moto(bucket.notification_configuration))
        self._removals().append(_Written(event_name, obj, bucket.region_name, account_id, rules))

    def _removals(self) -> list[_Written]:
        if getattr(self._local, "removals", None) is None:
            self._local.removals = []
        return self._local.removals

    def forget(self) -> None:
        self._local.written = None
        self._local.removals = None

    def take(self) -> list[_Written]:
        """Every event the current request caused, in the order it caused them."""
        written = getattr(self._local, "written", None)
        taken = ([written] if written else []) + self._removals()
        self.forget()
        return taken


def owner_principal_id(account_id: str) -> str:
    """A stable stand-in for the bucket owner's Amazon customer id (AWS's look like "A3NL1KOZZKExample")."""
    return "A" + hashlib.sha256(account_id.encode()).hexdigest()[:13].upper()


def _header(response: Response, name: str) -> str | None:
    return next((value for key, value in response.headers if key.lower() == name), None)


def _note_deletes(recorder: _WriteRecorder) -> None:
    """Wraps moto's S3Backend.delete_object so that every delete it performs is noted (see the module docstring)."""
    from moto.s3.models import S3Backend

    original = S3Backend.delete_object
    if getattr(original, "_localaws_noting", False):
        return

    def delete_object(self, bucket_name: str, key_name: str, version_id: str | None = None, bypass: bool = False):
        success, meta = original(self, bucket_name, key_name, version_id=version_id, bypass=bypass)
        bucket = self.get_bucket(bucket_name)
        if success or not bucket.is_versioned:  # moto reports a missing unversioned key as a failure; S3 does not
            recorder.removed(self.account_id, bucket, key_name, version_id, meta)
        return success, meta

    delete_object._localaws_noting = True  # type: ignore[attr-defined]
    S3Backend.delete_object = delete_object  # type: ignore[method-assign]


def test_event(bucket: str) -> dict:
    """The message S3 sends each queue and topic when a notification configuration is put:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html ("test message")."""
    request_id, host_id = new_request_ids()
    return {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": event_time(),
        "Bucket": bucket,
        "RequestId": request_id,
        "HostId": host_id,
    }


def send_test_event(account_id: str, bucket) -> None:
    """Stands in for moto's send_test_event (called under moto's lock, once the configuration is stored): one test
    message to each distinct queue and topic, through moto's backends in-process. A destination deleted meanwhile
    gets nothing, as on AWS."""
    import json

    from moto.sns.exceptions import SNSNotFoundError
    from moto.sns.models import sns_backends
    from moto.sqs.exceptions import QueueDoesNotExist
    from moto.sqs.models import sqs_backends

    configuration = bucket.notification_configuration
    for arn in dict.fromkeys(n.arn for n in configuration.queue):
        _, _, _, region, account, name = arn.split(":", 5)
        try:
            sqs_backends[account][region].send_message(name, json.dumps(test_event(bucket.name)))
        except QueueDoesNotExist:
            log.warning("s3 test event for %s not sent: queue %s does not exist", bucket.name, arn)
    for arn in dict.fromkeys(n.arn for n in configuration.topic):
        region, account = arn.split(":")[3:5]
        try:
            sns_backends[account][region].publish(
                json.dumps(test_event(bucket.name)), arn=arn, subject="Amazon S3 Notification"
            )
        except SNSNotFoundError:
            log.warning("s3 test event for %s not sent: topic %s does not exist", bucket.name, arn)


def install(app: LocalAws) -> None:
    recorder = _WriteRecorder(Sequencer())
    moto.s3.notifications.send_event = recorder
    moto.s3.notifications.send_test_event = send_test_event
    _note_deletes(recorder)
    deliverer = Deliverer(app, _policy_reader())
    app.on_shutdown(deliverer.shutdown)
    app.control("s3-event-deliveries", refusals_control(deliverer))

    def forget_earlier_write(_request: Request) -> None:
        recorder.forget()  # a keep-alive connection reuses its thread: never carry a note into the next request

    def emit_events(request: Request, response: Response) -> None:
        taken = recorder.take()
        if not taken:
            return
        request_id, host_id = _header(response, "x-amz-request-id"), _header(response, "x-amz-id-2")
        if not request_id or not host_id:
            request_id, host_id = new_request_ids()
            response.headers += [("x-amz-request-id", request_id), ("x-amz-id-2", host_id)]
        access_key = _access_key(request)
        for written in taken:
            facts = RequestFacts(
                region=written.region,
                principal_id=f"AWS:{access_key}" if access_key else "Anonymous",
                source_ip="127.0.0.1",  # localaws binds to loopback only: every client is local
                request_id=request_id,
                host_id=host_id,
                owner_id=owner_principal_id(written.account_id),
            )
            event_name = written.event_name.removeprefix("s3:")
            summary = f"{event_name} s3://{written.obj.bucket}/{written.obj.key}"
            source = Source(written.obj.bucket, written.account_id)
            for rule in written.rules:
                if rule.matches(written.event_name, written.obj.key):
                    event = build_event(event_name, written.obj, facts, rule.id or "")
                    deliverer.deliver(rule, event, summary, source)

    for operation in OBJECT_CREATING_OPERATIONS + OBJECT_REMOVING_OPERATIONS:
        app.validate("s3", operation, forget_earlier_write)
        app.after("s3", operation, emit_events)
    app.validate("s3", "PutBucketNotificationConfiguration", lambda request: _validate_configuration(app, request))


def _access_key(request: Request) -> str | None:
    match = re.search(r"Credential=([^/]+)/", request.headers.get("authorization", ""))
    return match[1] if match else None


def _validate_configuration(app: LocalAws, request: Request) -> Response | None:
    try:
        rules = parse_notification_xml(request.body)
    except ET.ParseError:
        return None  # moto answers MalformedXML
    bucket = request.route.path_params.get("Bucket", "")
    with app.moto_lock:
        account_id = _bucket_account(bucket)
    if account_id is None:
        return None  # moto answers NoSuchBucket
    rejection = ambiguity(rules)
    if rejection is not None:
        return rejection
    # The API's SkipDestinationValidation flag (x-amz-skip-destination-validation) turns the destination checks off.
    if request.headers.get("x-amz-skip-destination-validation", "").lower() == "true":
        return None
    with app.moto_lock:
        problems = destination_problems(rules, bucket, account_id, _policy_reader())
    if problems:
        log.info("s3 PutBucketNotificationConfiguration on %s refused: %s", bucket, "; ".join(v for _, v in problems))
        return invalid_argument(UNABLE_TO_VALIDATE, problems, numbered=True)
    return None


def _bucket_account(bucket: str) -> str | None:
    from moto.s3.models import s3_backends

    for account_id, backends in s3_backends.items():
        if bucket in backends["global"].buckets:
            return account_id
    return None


def _policy_reader():
    """policy_of(rule) for destination_problems, reading moto's Lambda, SQS and SNS backends in-process."""
    import json

    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.utils import get_backend
    from moto.sns.exceptions import SNSNotFoundError
    from moto.sns.models import sns_backends
    from moto.sqs.exceptions import QueueDoesNotExist
    from moto.sqs.models import sqs_backends

    def policy_of(rule: NotificationRule) -> dict | None:
        parts = rule.arn.split(":")
        if len(parts) < 6:
            return None
        region, account = parts[3], parts[4]
        try:
            if rule.kind == LAMBDA:
                function = get_backend(account, region).get_function(rule.arn)
                return {"Statement": list(function.policy.statements)}
            if rule.kind == QUEUE:
                queue = sqs_backends[account][region].get_queue(parts[5])
                return json.loads(queue.policy) if queue.policy else {}
            topic = sns_backends[account][region].get_topic(rule.arn)
            return json.loads(topic.policy)
        except (LambdaClientError, QueueDoesNotExist, SNSNotFoundError, KeyError, IndexError):
            return None

    return policy_of
