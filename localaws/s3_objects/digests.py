"""PutObject's Content-MD5 and x-amz-checksum-* headers checked against the object's bytes, as S3 checks them; moto
stores the object whatever they say.

https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList: BadDigest (400) "The Content-MD5 or
checksum value that you specified did not match what the server received", InvalidDigest (400) "The Content-MD5 or
checksum value that you specified is not valid"; https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
A validator checks them, so a refused object is stored by neither moto's path nor the data plane. Checked: Content-MD5
and the CRC32, SHA1 and SHA256 headers (the algorithms the standard library computes exactly); CRC32C and CRC64NVME
headers, and checksums in an aws-chunked trailer, are stored unchecked, as before.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable

from moto.s3.exceptions import S3ClientError

from localaws.s3_objects.answers import error
from localaws.s3_objects.writes import decoded_body
from localaws.server import Request, Response

_CHECKSUMS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "x-amz-checksum-crc32": ("CRC32", lambda data: zlib.crc32(data).to_bytes(4, "big")),
    "x-amz-checksum-sha1": ("SHA1", lambda data: hashlib.sha1(data).digest()),
    "x-amz-checksum-sha256": ("SHA256", lambda data: hashlib.sha256(data).digest()),
}


class BadDigest(S3ClientError):
    code = "BadDigest"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class InvalidDigest(S3ClientError):
    code = "InvalidDigest"

    def __init__(self) -> None:
        super().__init__("The Content-MD5 you specified was invalid.")


class InvalidRequest(S3ClientError):
    code = "InvalidRequest"

    def __init__(self, message: str) -> None:
        super().__init__(message)


def _decoded(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def digest_problem(headers: dict[str, str], body: bytes) -> S3ClientError | None:
    """The error S3 answers for a PUT whose digests do not fit its body, or None when they fit (or are absent)."""
    if "content-md5" in headers:
        expected = _decoded(headers["content-md5"])
        if expected is None or len(expected) != 16:
            return InvalidDigest()
        if expected != hashlib.md5(body).digest():
            return BadDigest("The Content-MD5 you specified did not match what we received.")
    for header, (algorithm, compute) in _CHECKSUMS.items():
        if header not in headers:
            continue
        expected = _decoded(headers[header])
        if expected is None or len(expected) != len(compute(b"")):
            return InvalidRequest(f"Value for {header} header is invalid.")
        if expected != compute(body):
            return BadDigest(f"The {algorithm} you specified did not match the calculated checksum.")
    return None


def check_digests(request: Request) -> Response | None:
    """A PutObject validator: S3's refusal when a digest does not fit the body."""
    if not any(name == "content-md5" or name in _CHECKSUMS for name in request.headers):
        return None
    body = decoded_body(request.headers, request.body)
    problem = None if body is None else digest_problem(request.headers, body)
    return None if problem is None else error("PutObject", problem)
