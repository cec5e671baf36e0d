"""GetObject and HeadObject from moto's store, with the Range and conditional headers, as moto's S3Response answers.

The conditional checks follow moto's (S3Response._get_key for GET, S3Response.head_object for HEAD, which differ: a
HEAD's If-Match must carry the ETag's quotes), so an answer here equals moto's:
https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
"""

from __future__ import annotations

import datetime
from typing import Any

from moto.core.utils import str_to_rfc_1123_datetime
from moto.s3.exceptions import HeadOnDeleteMarker, InvalidRange, MissingKey, MissingVersion, PreconditionFailed
from moto.s3.models import FakeKey
from moto.s3.utils import ARCHIVE_STORAGE_CLASSES

from localaws.s3_objects.answers import APP_XML, error, finish, flask_response
from localaws.s3_objects.target import ObjectTarget, answerable_bucket
from localaws.server import Response


class Conditions:
    """The conditional headers of a read; `parse` returns None for a date moto cannot parse (moto fails on it)."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.if_match = headers.get("if-match")
        self.if_none_match = headers.get("if-none-match")
        self.if_modified_since: datetime.datetime | None = None
        self.if_unmodified_since: datetime.datetime | None = None

    @classmethod
    def parse(cls, headers: dict[str, str]) -> Conditions | None:
        conditions = cls(headers)
        try:
            if headers.get("if-modified-since"):
                conditions.if_modified_since = str_to_rfc_1123_datetime(headers["if-modified-since"])
            if headers.get("if-unmodified-since"):
                conditions.if_unmodified_since = str_to_rfc_1123_datetime(headers["if-unmodified-since"])
        except ValueError:
            return None
        return conditions


def _modified(key: FakeKey) -> datetime.datetime:
    return key.last_modified.replace(microsecond=0)


def get_object(target: ObjectTarget, headers: dict[str, str], conditions: Conditions) -> Response | None:
    """GetObject; None when moto should answer. Call under moto's lock."""
    backend = target.backend()
    bucket = backend.get_bucket(target.bucket_name)
    if not answerable_bucket(bucket, "s3:GetObject", target):
        return None
    key = backend.get_object(target.bucket_name, target.key_name, version_id=target.version_id)
    if key is None:  # also a version that is a delete marker
        raise MissingKey(key=target.key_name) if target.version_id is None else MissingVersion()
    if key.storage_class in ARCHIVE_STORAGE_CLASSES:
        return None  # moto answers InvalidObjectState or a restored copy
    if conditions.if_unmodified_since and _modified(key) > conditions.if_unmodified_since:
        raise PreconditionFailed("If-Unmodified-Since")
    if conditions.if_match and key.etag not in (conditions.if_match, f'"{conditions.if_match}"'):
        raise PreconditionFailed("If-Match")
    not_modified = bool(conditions.if_modified_since and _modified(key) <= conditions.if_modified_since) or bool(
        conditions.if_none_match and key.etag in (conditions.if_none_match, f'"{conditions.if_none_match}"')
    )
    response_headers: dict[str, Any] = {}
    if key.version_id != "null":
        response_headers["x-amz-version-id"] = key.version_id
    response_headers.update(key.response_dict)
    if not_modified:  # S3 sends no content-* headers with a 304
        for name in [name for name in response_headers if name.startswith("content-")]:
            del response_headers[name]
        return finish(304, response_headers, "Not Modified")
    if headers.get("x-amz-checksum-mode") == "ENABLED" and key.checksum_algorithm:
        checksum = key.checksum_value
        if key.checksum_type == "COMPOSITE":
            checksum = f"{key.checksum_value}-{key.checksum_parts}"
        response_headers[f"x-amz-checksum-{key.checksum_algorithm.lower()}"] = checksum
        if key.checksum_type:
            response_headers["x-amz-checksum-type"] = key.checksum_type
    response_headers.update(key.metadata)
    response_headers["Accept-Ranges"] = "bytes"
    return ranged("GET", headers.get("range", ""), finish(200, response_headers, key.value))


def head_object(target: ObjectTarget, headers: dict[str, str], conditions: Conditions) -> Response | None:
    """HeadObject; None when moto should answer. Call under moto's lock."""
    backend = target.backend()
    bucket = backend.get_bucket(target.bucket_name)
    if not answerable_bucket(bucket, "s3:HeadObject", target):
        return None
    if target.version_id and not bucket.is_versioned:
        return finish(400, {}, "")
    try:
        key = backend.head_object(target.bucket_name, target.key_name, version_id=target.version_id)
    except HeadOnDeleteMarker as marker:
        marker_headers = {"x-amz-delete-marker": "true", "x-amz-version-id": target.version_id, "content-type": APP_XML}
        if target.version_id:  # HEAD of a delete marker's version: 405, as S3 answers
            marker_headers["allow"] = "DELETE"
            return finish(405, marker_headers, "Method Not Allowed")
        marker_headers["x-amz-version-id"] = marker.marker.version_id
        return finish(404, marker_headers, "Not Found")
    if key is None:
        return finish(404, {}, "")
    response_headers: dict[str, Any] = {**key.metadata, **key.response_dict, "Accept-Ranges": "bytes"}
    if conditions.if_unmodified_since and _modified(key) > conditions.if_unmodified_since:
        return finish(412, response_headers, "")
    if conditions.if_match and key.etag != conditions.if_match:
        return finish(412, response_headers, "")
    if conditions.if_modified_since and _modified(key) <= conditions.if_modified_since:
        return finish(304, response_headers, "Not Modified")
    if conditions.if_none_match and key.etag == conditions.if_none_match:
        return finish(304, response_headers, "Not Modified")
    if headers.get("x-amz-checksum-mode") == "ENABLED" and key.checksum_algorithm:
        response_headers[f"x-amz-checksum-{key.checksum_algorithm.lower()}"] = key.checksum_value
    return ranged("HEAD", headers.get("range", ""), finish(200, response_headers, ""))


def ranged(method: str, range_header: str, response: Response) -> Response:
    """A single byte range of a 200 answer, as moto's S3Response._handle_range_header cuts it: several ranges or an
    unparsable one answer the whole object, a range starting past the end is InvalidRange (416).
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_RequestSyntax (Range)"""
    if response.status != 200 or not range_header:
        return response
    headers = dict(response.headers)
    length = int(headers["content-length"]) if method == "HEAD" else len(response.body)
    last = length - 1
    _, _, spec = range_header.partition("=")
    if "," in spec:
        return response
    try:
        begin, end = (int(part) if part else None for part in spec.split("-"))
    except ValueError:
        return response
    if (begin is None and end == 0) or (begin is not None and begin > last):
        if method == "HEAD":
            return flask_response(416, {"Content-Type": APP_XML}, b"")
        return error("GetObject", InvalidRange(range_requested=range_header, actual_size=str(length)), enriched=False)
    if begin is not None:
        end = last if end is None else min(end, last)
    elif end is not None:
        begin, end = length - min(end, length), last
    else:
        return response
    if begin > min(end, last):
        return response
    if begin or end < last:  # a part of the object has no checksum of its own
        headers = {name: value for name, value in headers.items() if not name.startswith("x-amz-checksum-")}
    headers["content-range"] = f"bytes {begin}-{end}/{length}"
    body = b"" if method == "HEAD" else response.body[begin : end + 1]
    headers["content-length"] = str(end - begin + 1) if method == "HEAD" else str(len(body))
    return Response(206, list(headers.items()), body)
