"""Keep web pages away from localaws: no CORS unless asked for, and only loopback Host names.

A page open in the user's browser must not drive the endpoint. Two checks run before any service sees a request:
- **Host.** The `Host` header must be a loopback name (`localhost`, `*.localhost`, RFC 6761) or address (127.0.0.0/8,
  ::1), or one named with `--allowed-hosts` / LOCALAWS_ALLOWED_HOSTS. A DNS-rebinding page reaches 127.0.0.1 under its
  own name, so its requests carry that name and are refused (the defence Jupyter's `local_hostnames` applies).
- **Origin.** Browsers send `Origin` on cross-origin requests and on every POST. A request whose origin is neither
  localaws' own nor listed with `--cors-origins` / LOCALAWS_CORS_ORIGINS is refused, preflight or not, so a
  "simple" cross-origin POST cannot change state either. Clients such as boto3 or the aws CLI send no Origin.
moto's own global CORS (which answers every Origin) is stripped from every answer; a listed origin gets CORS headers
from here. https://developer.mozilla.org/en-US/docs/Web/HTTP/CORS
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

CORS_ENV = "LOCALAWS_CORS_ORIGINS"
HOSTS_ENV = "LOCALAWS_ALLOWED_HOSTS"
ALLOWED_METHODS = "GET, PUT, POST, DELETE, HEAD"
# What browser SDKs read from S3 and the json APIs' answers.
EXPOSED_HEADERS = "ETag, x-amz-request-id, x-amz-id-2, x-amz-version-id, x-amzn-requestid, x-amzn-errortype"


def split_list(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def host_name(host_header: str) -> str:
    """The name or address in a Host header, without port or IPv6 brackets, lowercased."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    return host.rstrip(".")


def is_loopback(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class BrowserGuard:
    cors_origins: frozenset[str] = frozenset()
    allowed_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_settings(
        cls, cors_origins: Iterable[str] | None = None, allowed_hosts: Iterable[str] | None = None
    ) -> BrowserGuard:
        """Lists given on the command line, else from LOCALAWS_CORS_ORIGINS / LOCALAWS_ALLOWED_HOSTS (comma lists)."""
        origins = list(cors_origins) if cors_origins is not None else split_list(os.environ.get(CORS_ENV))
        hosts = list(allowed_hosts) if allowed_hosts is not None else split_list(os.environ.get(HOSTS_ENV))
        return cls(frozenset(o.rstrip("/").lower() for o in origins), frozenset(host_name(h) for h in hosts))

    def host_allowed(self, host_header: str) -> bool:
        name = host_name(host_header)
        return is_loopback(name) or name in self.allowed_hosts

    def origin_allowed(self, origin: str, host_header: str) -> bool:
        origin = origin.rstrip("/").lower()
        if origin in self.cors_origins or "*" in self.cors_origins:
            return True
        # localaws' own origin (a page it serves itself) is same-origin, not cross-origin.
        parts = urlsplit(origin)
        return parts.scheme == "http" and parts.netloc == host_header.strip().lower()

    def refusal(self, environ: dict[str, Any]) -> tuple[int, bytes] | None:
        """(status, JSON body) when the request must not be served, else None."""
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        if not self.host_allowed(host):
            return 403, _message(
                f"localaws serves loopback names only, not Host {host!r}; "
                f"to serve it, start localaws with --allowed-hosts {host_name(host)} (or {HOSTS_ENV})"
            )
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and not self.origin_allowed(origin, host):
            return 403, _message(
                f"localaws refuses cross-origin requests from {origin!r}; "
                f"to allow them, start localaws with --cors-origins {origin} (or {CORS_ENV})"
            )
        return None

    def preflight(self, environ: dict[str, Any]) -> list[tuple[str, str]] | None:
        """The headers answering an allowed CORS preflight, or None when the request is not a preflight."""
        if environ.get("REQUEST_METHOD") != "OPTIONS" or "HTTP_ACCESS_CONTROL_REQUEST_METHOD" not in environ:
            return None
        headers = self.cors_headers(environ)
        headers += [
            ("Access-Control-Allow-Methods", ALLOWED_METHODS),
            ("Access-Control-Allow-Headers", environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "")),
            ("Access-Control-Max-Age", "600"),
        ]
        return headers

    @staticmethod
    def cors_headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
        origin = environ.get("HTTP_ORIGIN")
        if origin is None:
            return []
        return [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Expose-Headers", EXPOSED_HEADERS),
            ("Vary", "Origin"),
        ]

    @staticmethod
    def strip_cors(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]


def _message(text: str) -> bytes:
    return json.dumps({"__type": "AccessDeniedException", "message": text, "Message": text}).encode()
