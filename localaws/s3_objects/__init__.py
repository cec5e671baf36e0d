"""S3's object data plane: GetObject, HeadObject, PutObject and DeleteObject answered from moto's store, without
moto's Flask app.

moto holds S3's state; its S3Response parses every request afresh (Flask dispatch, BaseResponse.setup_class, the
key_response branches): 1.2-2.2 ms of the server's CPU per sequential object request, 0.45-0.9 ms here
(benchmarks/s3_object_requests.py), and in a burst of uploads the largest share of the server's time. Plain object
requests are answered here instead, from the same store, under the same moto lock:
- they sit where an override sits, so the gates (IAM, the browser guard), validators and after hooks (S3 event
  notifications, the crawler's read log) run exactly as for moto's answers;
- every answer equals moto's (status, headers, body, error XML; tests/localaws/test_s3_objects_differential.py
  sends the same requests to both), because the store calls are moto's own (S3Backend.get_object...) and the
  response rules are ported from S3Response;
- anything not understood (target.py) returns None, and moto answers it unchanged.
PutObject's Content-MD5 and x-amz-checksum-* headers are checked against the body for both paths (digests.py).

LOCALAWS_S3_DATA_PLANE=0 turns the data plane off (every object request goes to moto), for comparisons.
GET /_localaws/s3-data-plane counts, per operation, the requests answered here and those left to moto.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable

from moto.s3.exceptions import S3ClientError

from localaws.s3_objects import digests, reads, writes
from localaws.s3_objects.answers import error
from localaws.s3_objects.target import DELETE_HEADERS, READ_HEADERS, WRITE_HEADERS, plain_target
from localaws.server import LocalAws, Request, Response, json_response

ENABLED_VARIABLE = "LOCALAWS_S3_DATA_PLANE"


def enabled() -> bool:
    return os.environ.get(ENABLED_VARIABLE, "1").strip() != "0"


class Tally:
    """How many object requests the data plane answered, and how many it left to moto, per operation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.answered: Counter[str] = Counter()
        self.left: Counter[str] = Counter()

    def count(self, operation: str, response: Response | None) -> Response | None:
        with self._lock:
            (self.left if response is None else self.answered)[operation] += 1
        return response

    def as_json(self) -> dict:
        with self._lock:
            return {"answered": dict(self.answered), "left_to_moto": dict(self.left)}


def _read(app: LocalAws, answer: Callable[..., Response | None]) -> Callable[[Request], Response | None]:
    def handler(request: Request) -> Response | None:
        target = plain_target(request, READ_HEADERS, versioned=True)
        if target is None or request.headers.get("range", "=").count("=") != 1:
            return None
        conditions = reads.Conditions.parse(request.headers)
        if conditions is None:
            return None
        return _locked(app, request, lambda: answer(target, request.headers, conditions))

    return handler


def _put(app: LocalAws) -> Callable[[Request], Response | None]:
    def handler(request: Request) -> Response | None:
        target = plain_target(request, WRITE_HEADERS, meta=True)
        algorithm = request.headers.get("x-amz-sdk-checksum-algorithm")
        if target is None or (algorithm is not None and algorithm not in writes.CHECKSUM_ALGORITHMS):
            return None
        body = writes.decoded_body(request.headers, request.body)
        if body is None:
            return None
        # moto reads headers through werkzeug, which leaves out an empty Content-Type
        headers = {name: value for name, value in request.headers.items() if value or name != "content-type"}
        return _locked(app, request, lambda: writes.put_object(target, headers, request.body, body))

    return handler


def _delete(app: LocalAws) -> Callable[[Request], Response | None]:
    def handler(request: Request) -> Response | None:
        target = plain_target(request, DELETE_HEADERS, versioned=True)
        if target is None:
            return None
        return _locked(app, request, lambda: writes.delete_object(target, request.headers))

    return handler


def _locked(app: LocalAws, request: Request, answer: Callable[[], Response | None]) -> Response | None:
    try:
        with app.moto_lock:
            return answer()
    except S3ClientError as exc:  # moto's store refused (NoSuchBucket, NoSuchKey, PreconditionFailed...)
        return error(request.route.operation, exc)


def install(app: LocalAws) -> None:
    app.validate("s3", "PutObject", digests.check_digests)  # for moto's path too: moto checks no digest
    if not enabled():
        return
    tally = Tally()

    def counted(operation: str, handler: Callable[[Request], Response | None]) -> None:
        app.override("s3", operation, lambda request: tally.count(operation, handler(request)))

    counted("GetObject", _read(app, reads.get_object))
    counted("HeadObject", _read(app, reads.head_object))
    counted("PutObject", _put(app))
    counted("DeleteObject", _delete(app))
    app.internal("s3-data-plane", lambda _query: json_response(tally.as_json()))
