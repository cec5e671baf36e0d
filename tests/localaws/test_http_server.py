"""localaws's HTTP layer (localaws/http_server.py): HTTP/1.1 keep-alive on a bounded, growing pool of worker threads.

What the layer must keep from werkzeug's dev server and moto's MotoRequestHandler is tested through S3 as boto3 and
raw HTTP clients use it: `Expect: 100-continue`, chunked bodies, S3 keys with encoded slashes (RAW_URI), user metadata
names with underscores, large bodies, HEAD's Content-Length. Keep-alive: RFC 9112 section 9.3
(https://www.rfc-editor.org/rfc/rfc9112#section-9.3); 100-continue: RFC 9110 section 10.1.1.
"""

from __future__ import annotations

import http.client
import socket
import threading
import uuid

import boto3
import pytest
from botocore.config import Config

from localaws import http_server
from localaws.server import LocalAws, Response, Server, json_response

pytestmark = pytest.mark.localaws

BOUND_SECONDS = 30  # how long a test waits on the server before it fails (a bound on waiting, not a measurement)


@pytest.fixture
def server():
    app = LocalAws()
    running = Server(app, port=0).start()
    yield running
    running.stop()


@pytest.fixture
def s3(server):
    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}),
    )
    client.bucket = f"http-{uuid.uuid4().hex[:12]}"  # moto's store is per process, shared by every server here
    client.create_bucket(Bucket=client.bucket)
    return client


def connect(server: Server) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=BOUND_SECONDS)


def test_a_connection_serves_request_after_request(server) -> None:
    """werkzeug's dev server closed the connection after every answer, so each boto3 call opened a new one."""
    connection = connect(server)
    try:
        connection.request("GET", "/_localaws/health")
        first = connection.getresponse()
        first.read()
        sock = connection.sock
        assert not first.will_close
        assert (first.getheader("Connection") or "").lower() != "close"
        connection.request("GET", "/_localaws/health")
        second = connection.getresponse()
        assert second.status == 200
        assert second.read()
        assert connection.sock is sock  # the same TCP connection, not a new one
    finally:
        connection.close()


def read_until(sock: socket.socket, marker: bytes, awaited: str) -> bytes:
    """Bytes read from `sock` until `marker` arrives; fails if the server closes the connection first."""
    received = b""
    while marker not in received:
        chunk = sock.recv(1024)
        assert chunk, f"the server closed the connection instead of {awaited}"
        received += chunk
    return received


def test_expect_100_continue_is_answered_before_the_body(server, s3) -> None:
    """boto3 sends PutObject with `Expect: 100-continue` and waits for the interim answer before the body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=BOUND_SECONDS) as sock:
        sock.sendall(
            f"PUT /{s3.bucket}/expect.txt HTTP/1.1\r\n".encode()
            + b"Host: 127.0.0.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
            b"Authorization: AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/s3/aws4_request, "
            b"SignedHeaders=host, Signature=0\r\n\r\n"
        )
        interim = read_until(sock, b"\r\n\r\n", "answering 100 Continue")
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(b"hello")
        assert read_until(sock, b"\r\n", "answering the PUT").startswith(b"HTTP/1.1 200 ")
    assert s3.get_object(Bucket=s3.bucket, Key="expect.txt")["Body"].read() == b"hello"


def test_a_chunked_body_reaches_s3_whole(server, s3) -> None:
    body = b"".join(f"line {n}\n".encode() for n in range(1000))
    connection = connect(server)
    try:
        connection.putrequest("PUT", f"/{s3.bucket}/chunked.txt")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.putheader(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0",
        )
        connection.endheaders()
        for start in range(0, len(body), 1000):
            piece = body[start : start + 1000]
            connection.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        response.read()
        assert response.status == 200
    finally:
        connection.close()
    assert s3.get_object(Bucket=s3.bucket, Key="chunked.txt")["Body"].read() == body


def test_s3_keys_metadata_and_bodies_round_trip(s3) -> None:
    """An encoded slash stays in the key (moto reads RAW_URI), `my_key` metadata keeps its underscore, a body of
    several MB arrives whole, HEAD gives the object's length and no body."""
    key = "a/b%2Fc d+e/ü.json"
    large = bytes(range(256)) * (6 * 1024 * 4)  # 6 MiB, over boto3's default multipart threshold for upload_fileobj
    s3.put_object(Bucket=s3.bucket, Key=key, Body=large, Metadata={"my_key": "under"})
    head = s3.head_object(Bucket=s3.bucket, Key=key)
    assert head["ContentLength"] == len(large)
    assert head["Metadata"] == {"my_key": "under"}
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=s3.bucket)["Contents"]] == [key]
    assert s3.get_object(Bucket=s3.bucket, Key=key)["Body"].read() == large


def test_more_blocking_requests_than_workers_all_finish(server) -> None:
    """A synchronous Invoke holds its worker while the function calls back into the server; a fixed pool would
    deadlock once every worker waits. Here each request waits until all have arrived: more than the starting pool."""
    count = http_server.MIN_THREADS + 4
    barrier = threading.Barrier(count, timeout=BOUND_SECONDS)

    def wait_for_all(_method: str, _query: dict, _body: bytes) -> Response:
        barrier.wait()
        return json_response({"arrived": count})

    server.app.control("barrier", wait_for_all)
    statuses: list[int] = []

    def call() -> None:
        connection = connect(server)
        try:
            connection.request("GET", "/_localaws/barrier")
            statuses.append(connection.getresponse().status)
        finally:
            connection.close()

    callers = [threading.Thread(target=call) for _ in range(count)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(BOUND_SECONDS)
    assert statuses == [200] * count


def test_stop_closes_idle_connections_and_leaves_no_worker() -> None:
    running = Server(LocalAws(), port=0).start()
    connection = connect(running)
    connection.request("GET", "/_localaws/health")
    connection.getresponse().read()  # an idle keep-alive connection is open
    running.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("localaws-http") and t.is_alive()]
    connection.sock.settimeout(BOUND_SECONDS)
    assert connection.sock.recv(1) == b""  # closed by the server
    connection.close()


def test_the_server_binds_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Server(LocalAws(), host="0.0.0.0", port=0)
