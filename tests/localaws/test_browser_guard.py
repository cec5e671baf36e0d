"""A web page cannot drive localaws: CORS is off unless origins are listed, and only loopback Host names are served.

Before the guard, moto's global CORS answered every Origin (preflights allowed `authorization` and `x-amz-target`) and
any Host was served, so a page (or a DNS-rebinding name pointing at 127.0.0.1) could run Athena queries and read their
results. CORS: https://developer.mozilla.org/en-US/docs/Web/HTTP/CORS; loopback names: RFC 6761 section 6.3.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from kit.local_endpoint import LocalAwsProcess
from localaws.browser_guard import BrowserGuard, host_name, is_loopback

pytestmark = pytest.mark.localaws

PREFLIGHT = {
    "Origin": "http://evil.example",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type,x-amz-target",
}
LIST_WORK_GROUPS = {
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "AmazonAthena.ListWorkGroups",
    "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/athena/aws4_request, "
    "SignedHeaders=host, Signature=0",
}


def send(endpoint: str, method: str, path: str, headers: dict[str, str], body: bytes = b""):
    """One raw HTTP request (headers exactly as given, Host included); returns (status, headers, body)."""
    parts = urlsplit(endpoint)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.putrequest(method, path, skip_host="Host" in headers, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_a_cross_origin_preflight_is_refused(localaws) -> None:
    status, headers, _ = send(localaws.endpoint, "OPTIONS", "/", PREFLIGHT)
    assert status == 403
    assert not any(name.startswith("access-control-") for name in headers)


def test_a_simple_cross_origin_post_does_not_run(localaws) -> None:
    """A form-style POST needs no preflight; it must still not reach a service."""
    headers = {**LIST_WORK_GROUPS, "Origin": "http://evil.example"}
    status, _, body = send(localaws.endpoint, "POST", "/", headers, b"{}")
    assert status == 403
    assert "cross-origin" in json.loads(body)["message"]


def test_answers_carry_no_cors_headers(localaws) -> None:
    status, headers, _ = send(localaws.endpoint, "POST", "/", LIST_WORK_GROUPS, b"{}")
    assert status == 200
    assert not any(name.startswith("access-control-") for name in headers)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:4566", "192.168.1.20", "127.0.0.1.nip.io"])
def test_a_foreign_host_is_refused(localaws, host: str) -> None:
    status, _, body = send(localaws.endpoint, "POST", "/", {**LIST_WORK_GROUPS, "Host": host}, b"{}")
    assert status == 403
    assert "loopback" in json.loads(body)["message"]
    status, _, _ = send(localaws.endpoint, "GET", "/_localaws/health", {"Host": host})
    assert status == 403


@pytest.mark.parametrize("host", ["localhost:4566", "127.0.0.1", "127.0.0.2:9", "[::1]:4566", "bucket.localhost"])
def test_loopback_hosts_are_served(localaws, host: str) -> None:
    status, _, _ = send(localaws.endpoint, "POST", "/", {**LIST_WORK_GROUPS, "Host": host}, b"{}")
    assert status == 200


def test_listed_origins_and_hosts_are_served(tmp_path: Path) -> None:
    env = {"LOCALAWS_CORS_ORIGINS": "http://app.example:3000", "LOCALAWS_ALLOWED_HOSTS": "devbox.lan"}
    server = LocalAwsProcess(log_path=tmp_path / "localaws.log", env=env)
    try:
        preflight = {**PREFLIGHT, "Origin": "http://app.example:3000"}
        status, headers, _ = send(server.endpoint, "OPTIONS", "/", preflight)
        assert status == 200
        assert headers["access-control-allow-origin"] == "http://app.example:3000"
        assert "x-amz-target" in headers["access-control-allow-headers"]
        status, headers, _ = send(
            server.endpoint, "POST", "/", {**LIST_WORK_GROUPS, "Origin": "http://app.example:3000"}, b"{}"
        )
        assert status == 200 and headers["access-control-allow-origin"] == "http://app.example:3000"
        assert send(server.endpoint, "OPTIONS", "/", PREFLIGHT)[0] == 403
        assert send(server.endpoint, "POST", "/", {**LIST_WORK_GROUPS, "Host": "devbox.lan:4566"}, b"{}")[0] == 200
        assert send(server.endpoint, "POST", "/", {**LIST_WORK_GROUPS, "Host": "other.lan"}, b"{}")[0] == 403
    finally:
        server.stop()


def test_host_names() -> None:
    assert host_name("LocalHost:4566") == "localhost"
    assert host_name("[::1]:80") == "::1"
    assert is_loopback("127.8.9.10") and is_loopback("::1") and is_loopback("x.localhost")
    assert not is_loopback("localhost.evil.example") and not is_loopback("10.0.0.1")
    guard = BrowserGuard.from_settings(["http://a.example/"], ["Build.Lan:80"])
    assert guard.host_allowed("build.lan") and guard.origin_allowed("http://A.example", "localhost")
    assert guard.origin_allowed("http://127.0.0.1:4566", "127.0.0.1:4566")  # localaws' own origin
    assert not guard.origin_allowed("http://127.0.0.1:9999", "127.0.0.1:4566")
