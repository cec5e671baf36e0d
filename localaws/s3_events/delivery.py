"""Deliver S3 events as S3 does: asynchronously, as the S3 service principal, through each destination's own API.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html
https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html
- Lambda gets an Invoke with InvocationType=Event, SQS a SendMessage: each built as the request botocore would send
  and served in-process by LocalAws.handle, with the same gates, validators, override (Lambda's Invoke) and after
  hooks as over HTTP; SendMessage is answered by moto's SQS backend directly. So a delivery costs no HTTP round trip
  back into this server, and is accepted or refused as the same request over HTTP would be. SNS Publish goes over
  HTTP (botocore), as before.
- Lambda and SQS authorize every request, so the destination's resource policy must still let s3.amazonaws.com
  deliver from this bucket when the event is sent, not only when the configuration was put (the same
  validation.policy_allows): refused otherwise in the destination's AccessDenied shape. LOCALAWS_IAM=soft logs the
  refusal and delivers; off does not check.
- AWS drops an event whose destination has vanished or refuses it; we drop it too, with one readable log line, and
  keep the last refusals for GET /_localaws/s3-event-deliveries.
- At least once: an event is pending work (app.activity) from the write until its destination accepted it; an
  accepted Invoke then has Lambda's async retries, throttling and event age (lambda_runtime/async_queue.py).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from localaws.iam import access_denied, mode_from_environment
from localaws.routing import Route
from localaws.s3_events.rules import LAMBDA, QUEUE, NotificationRule
from localaws.s3_events.validation import S3_PRINCIPAL, delivery_action, policy_allows
from localaws.server import LocalAws, Request, Response, json_error, json_response

log = logging.getLogger("localaws.s3")

_MISSING = {"ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NotFound"}
_CLIENT_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60)
KEPT_REFUSALS = 100


@dataclass(frozen=True)
class Source:
    """The bucket an event comes from, for the destination's aws:SourceArn / aws:SourceAccount conditions."""

    bucket: str
    owner_account: str


class Deliverer:
    """A small pool of background threads that carries events to their destinations.

    `policy_of(rule)` reads the destination's resource policy (None when it does not exist); called under moto's
    lock."""

    def __init__(self, app: LocalAws, policy_of: Callable[[NotificationRule], dict | None], workers: int = 4) -> None:
        self._app = app
        self._policy_of = policy_of
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="localaws-s3-events")
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()
        self._refusals: deque[dict[str, Any]] = deque(maxlen=KEPT_REFUSALS)

    def deliver(self, rule: NotificationRule, event: dict, summary: str, source: Source) -> None:
        """Queue one event; the app counts it as pending until the destination has accepted (or refused) it."""
        self._app.activity.begin()
        self._pool.submit(self._send, rule, event, summary, source)

    def refusals(self) -> list[dict[str, Any]]:
        """The last refused deliveries, oldest first: event, destination, Code, Message, HTTP status."""
        return list(self._refusals)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _send(self, rule: NotificationRule, event: dict, summary: str, source: Source) -> None:
        target = f"{rule.kind} {_destination_name(rule)}"
        try:
            response = self.call_destination(rule, json.dumps(event), source)
            if response.ok:
                log.info("s3 event %s -> %s", summary, target)
                return
            code, message = error_of(response)
            self._refusals.append(
                {"Event": summary, "Destination": rule.arn, "Code": code, "Message": message, "Status": response.status}
            )
            if code in _MISSING:
                log.warning(
                    "s3 event %s -> %s dropped: the destination no longer exists (AWS drops it too)", summary, target
                )
            else:
                log.warning("s3 event %s -> %s dropped: %s: %s", summary, target, code, message)
        except (ClientError, BotoCoreError) as error:  # SNS, over HTTP
            log.warning("s3 event %s -> %s failed: %s", summary, target, error)
        except Exception:  # the delivery thread's boundary, as the server's is for a request: never lost unsaid
            log.exception("s3 event %s -> %s failed inside localaws; the event is dropped", summary, target)
            self._refusals.append(
                {"Event": summary, "Destination": rule.arn, "Code": "InternalFailure", "Message": "", "Status": 500}
            )
        finally:
            self._app.activity.end()

    def call_destination(self, rule: NotificationRule, message: str, source: Source) -> Response:
        """Send one event message to the rule's destination, as S3 would: the destination's answer."""
        _, _, _service, region, account, *rest = rule.arn.split(":")
        if rule.kind not in (LAMBDA, QUEUE):
            self._client("sns", region).publish(TopicArn=rule.arn, Message=message, Subject="Amazon S3 Notification")
            return Response(200, [], b"")
        request = _lambda_invoke(rule.arn, region, message) if rule.kind == LAMBDA else _send_message(rule.arn, message)
        denied = self._denied(rule, request, source)
        if denied is not None:
            return denied
        return self._app.handle(request, lambda: self._answer_by_moto(request, account, region, rest[0]))

    def _denied(self, rule: NotificationRule, request: Request, source: Source) -> Response | None:
        """The destination's AccessDenied when its resource policy no longer lets S3 deliver from this bucket."""
        mode = mode_from_environment()
        if mode == "off":
            return None
        action = delivery_action(rule.kind)
        with self._app.moto_lock:
            policy = self._policy_of(rule)
        if policy is None:
            return None  # no such destination: the destination's own answer (ResourceNotFound, NonExistentQueue)
        if policy_allows(policy, action, f"arn:aws:s3:::{source.bucket}", source.owner_account):
            return None
        message = (
            f"User: {S3_PRINCIPAL} is not authorized to perform: {action} on resource: {rule.arn} because no "
            "resource-based policy allows it for this bucket"
        )
        if mode == "soft":
            log.warning("iam (soft): would deny: %s", message)
            return None
        return access_denied(request, message)

    def _answer_by_moto(self, request: Request, account: str, region: str, queue_name: str) -> Response:
        """SendMessage answered by moto's SQS backend in-process (its HTTP handler checks nothing more for a plain
        body: no attributes, delay, group or deduplication id)."""
        from moto.sqs.exceptions import SQSException
        from moto.sqs.models import sqs_backends

        if request.route.operation != "SendMessage":
            return json_error("InternalFailure", f"{request.route.operation} is not served in-process", 500)
        body = request.json()["MessageBody"]
        with self._app.moto_lock:
            try:
                sent = sqs_backends[account][region].send_message(queue_name, body)
            except SQSException as error:
                return sqs_error(error.code, error.message)
        return json_response({"MD5OfMessageBody": sent.body_md5, "MessageId": sent.id}, 200)

    def _client(self, service: str, region: str) -> Any:
        with self._clients_lock:
            if (service, region) not in self._clients:
                self._clients[(service, region)] = boto3.session.Session().client(
                    service,
                    region_name=region,
                    endpoint_url=self._app.endpoint,
                    aws_access_key_id="test",
                    aws_secret_access_key="test",
                    config=_CLIENT_CONFIG,
                )
            return self._clients[(service, region)]


def _lambda_invoke(arn: str, region: str, message: str) -> Request:
    """Invoke(FunctionName=arn, InvocationType=Event) as botocore sends it."""
    path = f"/2015-03-31/functions/{quote(arn, safe='')}/invocations"
    headers = {"x-amz-invocation-type": "Event", "content-type": "application/json"}
    return Request(
        Route("lambda", "Invoke", region, {"FunctionName": arn}), "POST", path, {}, headers, message.encode()
    )


def _send_message(arn: str, message: str) -> Request:
    """SendMessage as botocore sends it (SQS's JSON protocol)."""
    _, _, _, region, account, name = arn.split(":", 5)
    body = json.dumps({"QueueUrl": f"https://sqs.{region}.amazonaws.com/{account}/{name}", "MessageBody": message})
    headers = {"x-amz-target": "AmazonSQS.SendMessage", "content-type": "application/x-amz-json-1.0"}
    return Request(Route("sqs", "SendMessage", region, {}), "POST", "/", {}, headers, body.encode())


def sqs_error(code: str, message: str, status: int = 400) -> Response:
    """An SQS error as its JSON protocol sends it: botocore reads the code from x-amzn-query-error (the SQS query
    API's code, e.g. AWS.SimpleQueueService.NonExistentQueue)."""
    response = json_error(code, message, status)
    response.headers.append(("x-amzn-query-error", f"{code};Sender"))
    return response


def error_of(response: Response) -> tuple[str, str]:
    """(Code, Message) of an error response in the json / rest-json protocols, as botocore would read them."""
    query_error = next((v for k, v in response.headers if k.lower() == "x-amzn-query-error"), "")
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = query_error.split(";", 1)[0] or str(body.get("__type", "")).rsplit("#", 1)[-1] or str(response.status)
    return code, str(body.get("message") or body.get("Message") or "")


def _destination_name(rule: NotificationRule) -> str:
    """The name in the destination's ARN: a function's (with its qualifier, if any), a queue's or a topic's."""
    parts = rule.arn.split(":")
    if rule.kind == LAMBDA and len(parts) > 6:
        return ":".join(parts[6:])  # arn:aws:lambda:region:account:function:name[:qualifier]
    return parts[-1]


def refusals_control(deliverer: Deliverer) -> Callable[[str, dict, bytes], Response]:
    def control(method: str, _query: dict, _body: bytes) -> Response:
        if method != "GET":
            return json_error("MethodNotAllowed", f"{method} is not served here: GET", 405)
        return json_response({"Refused": deliverer.refusals()})

    return control
