"""PutObject and DeleteObject into moto's store, as moto's S3Response does them.

Conditional writes (If-None-Match: * and If-Match) are checked and the object stored under moto's lock, so no other
write can land between check and store: https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html.
That is also why S3's 409 ConditionalRequestConflict (two writes racing inside S3) never arises here.
aws-chunked bodies are decoded as moto decodes them:
https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
"""

from __future__ import annotations

import io
import re
from typing import Any

from moto.s3.exceptions import MissingKey, PreconditionFailed
from moto.s3.utils import compute_checksum, metadata_from_headers

from localaws.s3_objects.answers import finish
from localaws.s3_objects.target import ObjectTarget, answerable_bucket
from localaws.server import Response

# The algorithms S3 offers (x-amz-sdk-checksum-algorithm); moto computes each of them.
CHECKSUM_ALGORITHMS = frozenset({"CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"})
_TRAILER_CHECKSUM = re.compile(rb"x-amz-checksum-\w+:(.+={1,2})")


def decoded_body(headers: dict[str, str], raw: bytes) -> bytes | None:
    """The object's bytes of a PUT body; None when it cannot be decoded (moto's answer is a failure, left to it)."""
    encoding = headers.get("x-amz-content-sha256")
    try:
        if encoding == "STREAMING-UNSIGNED-PAYLOAD-TRAILER":
            return _unsigned_chunks(raw)
        if encoding in ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"):
            return _signed_chunks(raw, int(headers["x-amz-decoded-content-length"]))
    except (KeyError, ValueError):
        return None
    return raw


def _unsigned_chunks(raw: bytes) -> bytes:
    """`<hex size>\\r\\n<data>\\r\\n` ... `0\\r\\n`, then trailers."""
    if not raw:
        return b""
    stream, data = io.BytesIO(raw), bytearray()
    size = int(stream.readline().strip(), 16)
    while size > 0:
        data += stream.read(size)
        stream.readline()
        size = int(stream.readline().strip(), 16)
    return bytes(data)


def _signed_chunks(raw: bytes, length: int) -> bytes:
    """`<hex size>;chunk-signature=<sig>\\r\\n<data>\\r\\n` ... a zero-size chunk, then trailers."""
    stream, data, position = io.BytesIO(raw), bytearray(length), 0
    line = stream.readline()
    while line:
        size = int(line[: line.find(b";")].decode("utf-8"), 16)
        if size == 0:
            break
        data[position : position + size] = stream.read(size)
        position += size
        stream.read(2)
        line = stream.readline()
    return bytes(data)


def checksum_of(headers: dict[str, str], raw: bytes, response_headers: dict[str, Any]) -> tuple[str, str | None]:
    """(algorithm, value) as moto's S3Response._get_checksum finds them: the x-amz-checksum-* header, else the
    trailer of an aws-chunked body, else computed; the value is echoed in `response_headers`."""
    algorithm = headers.get("x-amz-sdk-checksum-algorithm", "")
    header = f"x-amz-checksum-{algorithm.lower()}"
    value: str | bytes | None = headers.get(header)
    if not value and algorithm:
        found = _TRAILER_CHECKSUM.search(raw)
        value = found.group(1) if found else None
    if not value and algorithm:
        value = compute_checksum(raw, algorithm=algorithm)
    if value:
        value = value.decode("utf-8") if isinstance(value, bytes) else value
        response_headers[header] = value
    return algorithm, value or None


def put_object(target: ObjectTarget, headers: dict[str, str], raw: bytes, body: bytes) -> Response | None:
    """PutObject; None when moto should answer. Call under moto's lock."""
    backend = target.backend()
    bucket = backend.get_bucket(target.bucket_name)
    if not answerable_bucket(bucket, "s3:PutObject", target):
        return None
    if_match, if_none_match = headers.get("if-match"), headers.get("if-none-match")
    if if_match:
        current = backend.get_object(target.bucket_name, target.key_name)
        if current is None:
            raise MissingKey
        if if_match.replace('"', "") != current.etag.replace('"', ""):  # S3 ignores the quotes
            raise PreconditionFailed("If-Match")
    if if_none_match == "*" and backend.get_object(target.bucket_name, target.key_name) is not None:
        raise PreconditionFailed("If-None-Match")
    response_headers: dict[str, Any] = {}
    algorithm, checksum = checksum_of(headers, raw, response_headers)
    key = backend.put_object(target.bucket_name, target.key_name, body, storage="STANDARD", checksum_value=checksum)
    key.set_metadata(metadata_from_headers(headers))
    key.set_acl(bucket.acl)
    key.website_redirect_location = None
    if algorithm:
        key.checksum_algorithm = algorithm
    backend.put_object_tagging(key, {})  # a new object has no tags: the old object's go
    response_headers.update(key.response_dict)
    response_headers.pop("content-length", None)  # the answer has no body
    return finish(200, response_headers, "")


def delete_object(target: ObjectTarget, headers: dict[str, str]) -> Response | None:
    """DeleteObject: of a version, or (no version id) of the object, which in a versioned bucket puts a delete
    marker; None when moto should answer."""
    backend = target.backend()
    bucket = backend.get_bucket(target.bucket_name)
    if not answerable_bucket(bucket, "s3:DeleteObject", target):
        return None
    if_match = headers.get("if-match")
    if if_match:
        current = backend.get_object(target.bucket_name, target.key_name)
        if current is None:
            raise MissingKey
        if if_match.replace('"', "") != current.etag.replace('"', ""):
            raise PreconditionFailed("If-Match")
    _, meta = backend.delete_object(target.bucket_name, target.key_name, version_id=target.version_id, bypass=None)
    return finish(204, {f"x-amz-{name}": value for name, value in meta.items()}, "")
