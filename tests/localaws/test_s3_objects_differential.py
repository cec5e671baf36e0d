"""The S3 object data plane (localaws/s3_objects) answers exactly as moto's S3Response did.

The same requests go to two localaws servers: the session's, where the data plane answers plain object requests, and
one started with LOCALAWS_S3_DATA_PLANE=0, where moto answers every one. Each response must have the same status,
headers and body; only what is random by nature differs (dates, request ids, version ids, which are compared by the
order they appear in).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import uuid
import zlib
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

import pytest

pytest.importorskip("hypothesis", reason="a dev dependency, not in the layer's environment (make test-layer)")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.local_endpoint import LocalAwsProcess

pytestmark = pytest.mark.localaws

ROOT = Path(__file__).resolve().parents[2]
AUTH = "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"
RANDOM_IDS = ("x-amzn-requestid", "x-amz-request-id", "x-amz-id-2")
WRONG_MD5 = base64.b64encode(b"0" * 16).decode()


@pytest.fixture(scope="module")
def moto_only() -> Iterator[LocalAwsProcess]:
    log = ROOT / ".pytest_cache" / f"localaws-moto-only-{os.getpid()}.log"
    log.parent.mkdir(exist_ok=True)
    server = LocalAwsProcess(log_path=log, env={"LOCALAWS_S3_DATA_PLANE": "0", "LOCALAWS_LAMBDA_PREWARM": "0"})
    yield server
    server.stop()


class Side:
    """One server, and the version ids it has answered with, numbered in order of appearance."""

    def __init__(self, endpoint: str) -> None:
        host, port = endpoint.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.versions: dict[str, int] = {}
        self.versions_of: dict[str, list[str]] = {}  # path -> the version ids its PUTs and DELETEs answered

    def version_query(self, path: str, selector: str | None) -> str:
        """`?versionId=` for a selector: "first" or "last" version this side saw for the path, or a literal."""
        if selector is None:
            return ""
        seen = self.versions_of.get(path, [])
        if selector in ("first", "last"):
            if not seen:
                return ""
            selector = seen[0] if selector == "first" else seen[-1]
        return f"?versionId={quote(selector, safe='')}"

    def send(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers={"Authorization": AUTH, **(headers or {})})
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def normalized(self, status: int, headers: list[tuple[str, str]], body: bytes):
        kept = []
        for name, value in headers:
            name = name.lower()
            if name == "date":
                continue
            if name in RANDOM_IDS:
                value = "<id>"
            elif name == "x-amz-version-id" and value != "null":
                value = f"<version {self.versions.setdefault(value, len(self.versions))}>"
            elif name == "last-modified":
                assert parsedate_to_datetime(value).tzinfo is not None
                value = "<time>"
            kept.append((name, value))
        body = re.sub(rb"<RequestId>[^<]*</RequestId>", b"<RequestId/>", body)
        return status, sorted(kept), body


def same_answer(
    fast: Side, moto: Side, method: str, path: str, body: bytes = b"", headers=None, version: str | None = None
) -> tuple:
    answers = []
    for side in (fast, moto):
        status, response_headers, response_body = side.send(
            method, path + side.version_query(path, version), body, headers
        )
        created = next((v for k, v in response_headers if k.lower() == "x-amz-version-id"), None)
        if method in ("PUT", "DELETE") and created and created != "null":
            side.versions_of.setdefault(path, []).append(created)
        answers.append(side.normalized(status, response_headers, response_body))
    assert answers[0] == answers[1], f"{method} {path} {headers} version {version}"
    return answers[0]


def etag(body: bytes) -> str:
    return f'"{hashlib.md5(body).hexdigest()}"'


keys = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)
bodies = st.binary(max_size=64)
past, future = "Mon, 01 Jan 2001 00:00:00 GMT", "Fri, 01 Jan 2100 00:00:00 GMT"
# a version of the key this side saw created (first or last), S3's "null" version, or one that never existed
versions = st.sampled_from([None, None, "first", "last", "null", "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"])
ranges = st.one_of(
    st.builds(lambda a, b: f"bytes={a}-{b}", st.integers(0, 80), st.integers(0, 80)),
    st.builds(lambda a: f"bytes={a}-", st.integers(0, 80)),
    st.builds(lambda n: f"bytes=-{n}", st.integers(0, 80)),
    st.sampled_from(["bytes=0-1,3-4", "bytes=x-y", "bytes=-", "bytes=5-2"]),
)


def read_headers(bodies_seen: list[bytes]):
    tags = st.sampled_from([etag(b) for b in bodies_seen] or ['"0"']) if bodies_seen else st.just('"0"')
    conditions = st.one_of(
        st.just({}),
        st.builds(lambda t: {"If-Match": t}, st.one_of(tags, tags.map(lambda t: t.strip('"')), st.just("nope"))),
        st.builds(lambda t: {"If-None-Match": t}, st.one_of(tags, tags.map(lambda t: t.strip('"')))),
        st.sampled_from([{"If-Modified-Since": past}, {"If-Modified-Since": future}]),
        st.sampled_from([{"If-Unmodified-Since": past}, {"If-Unmodified-Since": future}]),
    )
    extra = st.fixed_dictionaries({}, optional={"Range": ranges, "x-amz-checksum-mode": st.just("ENABLED")})
    return st.builds(lambda c, e: {**c, **e}, conditions, extra)


def put_headers(body: bytes, bodies_seen: list[bytes]):
    crc32 = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    sha256 = base64.b64encode(hashlib.sha256(body).digest()).decode()
    checksum = st.sampled_from(
        [
            {},
            {"x-amz-sdk-checksum-algorithm": "CRC32", "x-amz-checksum-crc32": crc32},
            {"x-amz-sdk-checksum-algorithm": "SHA256"},
            {"x-amz-sdk-checksum-algorithm": "SHA256", "x-amz-checksum-sha256": sha256},
            {"x-amz-sdk-checksum-algorithm": "CRC32", "x-amz-checksum-crc32": "AAAAAA=="},
        ]
    )
    condition = st.one_of(
        st.just({}),
        st.just({"If-None-Match": "*"}),
        st.builds(lambda t: {"If-Match": t}, st.sampled_from([etag(b) for b in bodies_seen] + ['"0"'])),
    )
    plain = st.fixed_dictionaries(
        {},
        optional={
            "Content-Type": st.sampled_from(["application/json", "text/plain; charset=utf-8"]),
            "x-amz-meta-origin": st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=8),
            "x-amz-meta-my_key": st.just("underscored"),
            "Cache-Control": st.just("no-cache"),
            "Content-MD5": st.sampled_from([base64.b64encode(hashlib.md5(body).digest()).decode(), WRONG_MD5, "bad"]),
            "x-amz-content-sha256": st.just(hashlib.sha256(body).hexdigest()),
        },
    )
    return st.builds(lambda a, b, c: {**a, **b, **c}, checksum, condition, plain)


def wire_bodies(body: bytes) -> Iterator[tuple[bytes, dict[str, str]]]:
    """The body as sent: plain, or aws-chunked, unsigned with a checksum trailer or with chunk signatures.
    https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html"""
    yield body, {}
    crc32 = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    chunk = f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b""
    trailer = chunk + f"0\r\nx-amz-checksum-crc32:{crc32}\r\n\r\n".encode()
    yield (
        trailer,
        {
            "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(body)),
            "x-amz-trailer": "x-amz-checksum-crc32",
            "x-amz-sdk-checksum-algorithm": "CRC32",
        },
    )
    signature = "0" * 64
    signed = f"{len(body):x};chunk-signature={signature}\r\n".encode() + body + b"\r\n" if body else b""
    signed += f"0;chunk-signature={signature}\r\n\r\n".encode()
    yield (
        signed,
        {
            "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(body)),
        },
    )


@st.composite
def scenarios(draw):
    names = draw(st.lists(keys, min_size=1, max_size=3, unique=True))
    steps, seen = [], []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["put", "put", "get", "head", "delete"]))
        key = draw(st.sampled_from(names))
        if kind == "put":
            body = draw(bodies)
            headers = draw(put_headers(body, seen))
            wire, encoding_headers = draw(st.sampled_from(list(wire_bodies(body))))
            steps.append(("PUT", key, wire, {**headers, **encoding_headers}, None))
            seen.append(body)
        elif kind == "delete":
            steps.append(("DELETE", key, b"", draw(st.sampled_from([{}, {"If-Match": '"0"'}])), draw(versions)))
        else:
            steps.append((kind.upper(), key, b"", draw(read_headers(seen)), draw(versions)))
        steps.append(("GET", key, b"", {}, None))  # every step's effect is read back
    return draw(st.booleans()), steps


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_object_requests_answer_as_moto_does(localaws, moto_only, scenario) -> None:
    versioned, steps = scenario
    fast, moto = Side(localaws.endpoint), Side(moto_only.endpoint)
    bucket = f"diff-{uuid.uuid4().hex[:12]}"
    same_answer(fast, moto, "PUT", f"/{bucket}")
    if versioned:
        configuration = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
        same_answer(fast, moto, "PUT", f"/{bucket}?versioning", configuration)
    left_before = tally(fast)["left_to_moto"]
    for method, key, body, headers, version in steps:
        same_answer(fast, moto, method, f"/{bucket}/{quote(key, safe='')}", body, headers, version)
    assert tally(fast)["left_to_moto"] == left_before  # every one of these requests is the data plane's


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
def test_a_missing_bucket_is_no_such_bucket_in_s3s_shape(localaws, moto_only, method) -> None:
    status, _, body = same_answer(Side(localaws.endpoint), Side(moto_only.endpoint), method, "/no-such-bucket-x/k")
    assert status == 404
    assert method == "HEAD" or b"<Code>NoSuchBucket</Code>" in body


def test_plain_requests_are_answered_by_the_data_plane(localaws) -> None:
    """The comparison above means something only if the data plane, not moto, answered the plain requests."""
    fast = Side(localaws.endpoint)
    bucket = f"diff-{uuid.uuid4().hex[:12]}"
    fast.send("PUT", f"/{bucket}")
    before = tally(fast)
    assert fast.send("PUT", f"/{bucket}/k", b"body", {"x-amz-meta-my_key": "v"})[0] == 200
    assert fast.send("GET", f"/{bucket}/k")[2] == b"body"
    assert ("x-amz-meta-my_key", "v") in fast.send("HEAD", f"/{bucket}/k")[1]
    assert fast.send("DELETE", f"/{bucket}/k")[0] == 204
    fast.send("GET", f"/{bucket}/k?response-content-type=text/plain")  # a query the data plane leaves to moto
    fast.send("PUT", f"/{bucket}/k", b"body", {"x-amz-tagging": "a=b"})  # so is tagging
    after = tally(fast)
    for operation in ("PutObject", "GetObject", "HeadObject", "DeleteObject"):
        assert after["answered"].get(operation, 0) - before["answered"].get(operation, 0) == 1, operation
    for operation in ("GetObject", "PutObject"):
        assert after["left_to_moto"].get(operation, 0) - before["left_to_moto"].get(operation, 0) == 1, operation


def tally(side: Side) -> dict:
    status, _, body = side.send("GET", "/_localaws/s3-data-plane")
    assert status == 200
    return json.loads(body)


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Content-MD5": WRONG_MD5}, "BadDigest"),
        ({"Content-MD5": "not-base64"}, "InvalidDigest"),
        ({"x-amz-sdk-checksum-algorithm": "CRC32", "x-amz-checksum-crc32": "AAAAAA=="}, "BadDigest"),
        ({"x-amz-sdk-checksum-algorithm": "SHA256", "x-amz-checksum-sha256": "AAAA"}, "InvalidRequest"),
    ],
)
def test_a_digest_that_does_not_fit_the_body_is_refused_and_nothing_is_stored(localaws, headers, code) -> None:
    """S3 checks Content-MD5 and x-amz-checksum-* against the body (moto did not):
    https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList"""
    side = Side(localaws.endpoint)
    bucket = f"digest-{uuid.uuid4().hex[:12]}"
    side.send("PUT", f"/{bucket}")
    status, _, body = side.send("PUT", f"/{bucket}/k", b"the body", headers)
    assert (status, f"<Code>{code}</Code>".encode() in body) == (400, True), body
    assert side.send("HEAD", f"/{bucket}/k")[0] == 404
    good = base64.b64encode(hashlib.md5(b"the body").digest()).decode()
    assert side.send("PUT", f"/{bucket}/k", b"the body", {"Content-MD5": good})[0] == 200
