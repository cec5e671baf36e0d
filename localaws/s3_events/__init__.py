"""S3 event notifications, as S3 sends them: one event per object creation, to every matching destination.

How it fits moto:
1. moto stores the objects and the notification configuration. Its own notification sender invokes Lambda inside the
   PUT through Docker (and fails silently without it), and fires twice for a multipart upload. We replace
   `moto.s3.notifications.send_event`, the one function every moto S3 write calls, with a recorder that sends
   nothing: it notes the object just written (size, ETag, version, a sequencer taken under moto's lock) and the
   bucket's rules, for the request thread that wrote it.
2. After PutObject, CopyObject or CompleteMultipartUpload has answered 200, an after hook takes that note and
   queues exactly one event (ObjectCreated:Put / :Copy / :CompleteMultipartUpload) per matching rule.
3. Delivery (delivery.py) is asynchronous and goes through the destination's public API.
4. PutBucketNotificationConfiguration is validated first, as S3 does (validation.py).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import moto.s3.notifications

from localaws.s3_events.delivery import Deliverer
from localaws.s3_events.records import CreatedObject, RequestFacts, Sequencer, build_event, new_request_ids
from localaws.s3_events.rules import LAMBDA, QUEUE, NotificationRule, parse_notification_xml, rules_from_moto
from localaws.s3_events.validation import UNABLE_TO_VALIDATE, ambiguity, destination_problems, invalid_argument
from localaws.server import LocalAws, Request, Response

log = logging.getLogger("localaws.s3")

OBJECT_CREATING_OPERATIONS = ("PutObject", "CopyObject", "CompleteMultipartUpload")


@dataclass(frozen=True)
class _Written:
    event_name: str  # moto's, e.g. "s3:ObjectCreated:Put"
    obj: CreatedObject
    region: str
    account_id: str
    rules: tuple[NotificationRule, ...]


class _WriteRecorder:
    """Stands in for moto's send_event: remembers, per thread, the last object a moto S3 call created."""

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

    def forget(self) -> None:
        self._local.written = None

    def take(self) -> _Written | None:
        written = getattr(self._local, "written", None)
        self._local.written = None
        return written


def owner_principal_id(account_id: str) -> str:
    """A stable stand-in for the bucket owner's Amazon customer id (AWS's look like "A3NL1KOZZKExample")."""
    return "A" + hashlib.sha256(account_id.encode()).hexdigest()[:13].upper()


def _header(response: Response, name: str) -> str | None:
    return next((value for key, value in response.headers if key.lower() == name), None)


def install(app: LocalAws) -> None:
    recorder = _WriteRecorder(Sequencer())
    moto.s3.notifications.send_event = recorder
    deliverer = Deliverer(app)
    app.on_shutdown(deliverer.shutdown)

    def forget_earlier_write(_request: Request) -> None:
        recorder.forget()  # a keep-alive connection reuses its thread: never carry a note into the next request

    def emit_events(request: Request, response: Response) -> None:
        written = recorder.take()
        if written is None:
            return
        request_id, host_id = _header(response, "x-amz-request-id"), _header(response, "x-amz-id-2")
        if not request_id or not host_id:
            request_id, host_id = new_request_ids()
            response.headers += [("x-amz-request-id", request_id), ("x-amz-id-2", host_id)]
        access_key = _access_key(request)
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
        for rule in written.rules:
            if rule.matches(written.event_name, written.obj.key):
                deliverer.deliver(rule, build_event(event_name, written.obj, facts, rule.id or ""), summary)

    for operation in OBJECT_CREATING_OPERATIONS:
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
