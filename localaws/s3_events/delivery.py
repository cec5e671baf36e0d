"""Deliver S3 events as S3 does: asynchronously, through each destination's own public API.

Lambda gets an Invoke with InvocationType=Event, SQS a SendMessage, SNS a Publish, all over HTTP against localaws
itself, so S3 stays decoupled from whichever part answers those APIs. AWS drops an event whose destination has
vanished since the configuration was validated; we drop it too, with one readable log line.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from localaws.s3_events.rules import LAMBDA, QUEUE, NotificationRule
from localaws.server import LocalAws

log = logging.getLogger("localaws.s3")

_MISSING = {"ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NotFound"}
_CLIENT_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60)


class Deliverer:
    """A small pool of background threads that carries events to their destinations."""

    def __init__(self, app: LocalAws, workers: int = 4) -> None:
        self._app = app
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="localaws-s3-events")
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()
        self._queue_urls: dict[str, str] = {}  # a queue's URL follows from its ARN, so it may be remembered

    def deliver(self, rule: NotificationRule, event: dict, summary: str) -> None:
        """Queue one event; the app counts it as pending until the destination has accepted (or refused) it."""
        self._app.activity.begin()
        self._pool.submit(self._send, rule, event, summary)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _send(self, rule: NotificationRule, event: dict, summary: str) -> None:
        target = f"{rule.kind} {_destination_name(rule)}"
        try:
            self._call_destination(rule, json.dumps(event))
            log.info("s3 event %s -> %s", summary, target)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _MISSING:
                log.warning(
                    "s3 event %s -> %s dropped: the destination no longer exists (AWS drops it too)", summary, target
                )
            else:
                log.warning("s3 event %s -> %s failed: %s", summary, target, error)
        except BotoCoreError as error:
            log.warning("s3 event %s -> %s failed: %s", summary, target, error)
        finally:
            self._app.activity.end()

    def _call_destination(self, rule: NotificationRule, message: str) -> None:
        _, _, _service, region, account, *rest = rule.arn.split(":")
        if rule.kind == LAMBDA:
            self._client("lambda", region).invoke(
                FunctionName=rule.arn, InvocationType="Event", Payload=message.encode()
            )
        elif rule.kind == QUEUE:
            sqs = self._client("sqs", region)
            if rule.arn not in self._queue_urls:
                self._queue_urls[rule.arn] = sqs.get_queue_url(QueueName=rest[0], QueueOwnerAWSAccountId=account)[
                    "QueueUrl"
                ]
            sqs.send_message(QueueUrl=self._queue_urls[rule.arn], MessageBody=message)
        else:
            self._client("sns", region).publish(TopicArn=rule.arn, Message=message, Subject="Amazon S3 Notification")

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


def _destination_name(rule: NotificationRule) -> str:
    """The name in the destination's ARN: a function's (with its qualifier, if any), a queue's or a topic's."""
    parts = rule.arn.split(":")
    if rule.kind == LAMBDA and len(parts) > 6:
        return ":".join(parts[6:])  # arn:aws:lambda:region:account:function:name[:qualifier]
    return parts[-1]
