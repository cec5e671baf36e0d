"""The localaws endpoint: moto's control plane behind a WSGI layer that hands chosen operations to our data plane.

A request is named by `routing.identify` as (service, operation). Three kinds of extension see it:
- an *override* answers the operation itself (Athena queries, Lambda Invoke), or returns None to leave a request it
  does not handle to moto (the S3 object data plane answers plain object requests and leaves the rest);
- a *validator* may reject it before moto stores anything (S3 notification validation), with AWS's error shape;
- an *after hook* runs once moto has answered successfully (an S3 PutObject fires an event, StartCrawler crawls).
moto's models are not built for concurrent mutation, so every call into moto holds one lock.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY
from moto.moto_server.werkzeug_app import create_backend_app

from localaws.activity import Activity
from localaws.browser_guard import BrowserGuard
from localaws.http_server import HttpServer
from localaws.moto_dispatch import CachedDomainDispatcher
from localaws.routing import Route, identify

log = logging.getLogger("localaws")

DEFAULT_PORT = 4566
ACCOUNT_ID = "123456789012"  # moto's default account; STS GetCallerIdentity answers with it


@dataclass
class Request:
    route: Route | None  # None only for a gate: a request routing cannot name goes to moto as it is
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        return json.loads(self.body or b"{}")


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> dict[str, Any]:
        return json.loads(self.body or b"{}")


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    head = {"Content-Type": "application/x-amz-json-1.1", **(headers or {})}
    return Response(status, list(head.items()), json.dumps(payload, default=str).encode())


def json_error(code: str, message: str, status: int = 400) -> Response:
    """An error in the json / rest-json protocols' shape, which botocore turns into ClientError(code, message)."""
    return json_response({"__type": code, "message": message, "Message": message}, status, {"x-amzn-ErrorType": code})


def xml_error(code: str, message: str, status: int = 400) -> Response:
    """An error in S3's rest-xml shape."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{_xml_escape(message)}</Message>"
        f"<RequestId>{time.time_ns():x}</RequestId></Error>"
    )
    return Response(status, [("Content-Type", "application/xml")], body.encode())


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


Override = Callable[[Request], "Response | None"]  # None: moto answers
Control = Callable[[str, dict[str, list[str]], bytes], Response]  # (method, query, body) -> response
Validator = Callable[[Request], "Response | None"]
AfterHook = Callable[[Request, Response], None]


@dataclass
class LocalAws:
    """The WSGI application. Data-plane parts register on it; `serve()` puts it on a loopback port."""

    endpoint: str = ""
    activity: Activity = field(default_factory=Activity)
    guard: BrowserGuard = field(default_factory=BrowserGuard.from_settings)
    moto_lock: threading.RLock = field(default_factory=threading.RLock)
    _overrides: dict[tuple[str, str], Override] = field(default_factory=dict)
    _validators: dict[tuple[str, str], list[Validator]] = field(default_factory=lambda: defaultdict(list))
    _after: dict[tuple[str, str], list[AfterHook]] = field(default_factory=lambda: defaultdict(list))
    _internal: dict[str, Callable[[dict[str, list[str]]], Response]] = field(default_factory=dict)
    _gates: list[Validator] = field(default_factory=list)
    _controls: dict[str, Control] = field(default_factory=dict)
    _shutdown: list[Callable[[], None]] = field(default_factory=list)
    _kill: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._moto = CachedDomainDispatcher(create_backend_app)
        self._internal["health"] = self._health
        self._internal["idle"] = self._idle

    # -- registration -------------------------------------------------------------------------------------
    def override(self, service: str, operation: str, handler: Override) -> None:
        self._overrides[(service, operation)] = handler

    def gate(self, gate: Validator) -> None:
        """Run `gate` on every request to a service before anything else; a Response it returns is the answer."""
        self._gates.append(gate)

    def validate(self, service: str, operation: str, validator: Validator) -> None:
        self._validators[(service, operation)].append(validator)

    def after(self, service: str, operation: str, hook: AfterHook) -> None:
        self._after[(service, operation)].append(hook)

    def internal(self, name: str, handler: Callable[[dict[str, list[str]]], Response]) -> None:
        """Serve GET /_localaws/<name>."""
        self._internal[name] = handler

    def control(self, name: str, handler: Control) -> None:
        """Serve /_localaws/<name> for every method: localaws's own controls, which no AWS API has (tests use them)."""
        self._controls[name] = handler

    def on_shutdown(self, callback: Callable[[], None]) -> None:
        self._shutdown.append(callback)

    def on_kill(self, callback: Callable[[], None]) -> None:
        """`callback` must stop worker processes and remove temp folders even if a shutdown callback is stuck."""
        self._kill.append(callback)

    def shutdown(self) -> None:
        for callback in reversed(self._shutdown):
            callback()

    def kill(self) -> None:
        """The last resort of a stop that did not finish in time: run each kill callback, whatever the others do."""
        for callback in reversed(self._kill):
            try:
                callback()
            except (OSError, RuntimeError):  # stopping by force: every callback gets its turn
                log.exception("kill callback failed")

    # -- calling moto in-process ------------------------------------------------------------------------------
    def call_moto(self, environ: dict[str, Any]) -> Response:
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"] = int(status.split()[0])
            captured["headers"] = headers

        with self.moto_lock:
            chunks = self._moto(environ, start_response)
            try:
                body = b"".join(chunks)
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
        return Response(captured["status"], captured["headers"], body)

    # -- WSGI ----------------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        refusal = self.guard.refusal(environ)
        if refusal is not None:
            log.warning("refused %s %s: %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), refusal[1])
            return self._send(Response(refusal[0], [("Content-Type", "application/json")], refusal[1]), start_response)
        preflight = self.guard.preflight(environ)
        if preflight is not None:
            return self._send(Response(200, preflight, b""), start_response)
        cors = self.guard.cors_headers(environ)

        def send_headers(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            # moto's global CORS answers every Origin; only the guard's headers, for an allowed origin, go out.
            return start_response(status, BrowserGuard.strip_cors(headers) + cors, exc_info)

        return self._serve(environ, send_headers)

    def _serve(self, environ: dict[str, Any], start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        if path.startswith("/_localaws/"):
            return self._send(self._serve_internal(path, environ), start_response)
        body = _read_body(environ)
        # S3 user metadata keeps its underscores (x-amz-meta-my_key), as moto reads it
        preserved = environ.get(PRESERVED_HEADER_NAMES_ENVIRON_KEY, {})
        headers = {
            preserved.get(key, key[5:].replace("_", "-")).lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if "CONTENT_TYPE" in environ:
            headers["content-type"] = environ["CONTENT_TYPE"]
        query_string = environ.get("QUERY_STRING", "")
        route = identify(environ["REQUEST_METHOD"], path, query_string, headers, body)
        request = Request(
            route, environ["REQUEST_METHOD"], path, parse_qs(query_string, keep_blank_values=True), headers, body
        )
        if route is None:
            for gate in self._gates:
                refusal = gate(request)
                if refusal is not None:
                    return self._send(refusal, start_response)
            return self._send(self.call_moto(_rewound(environ, body)), start_response)
        return self._send(self.handle(request, lambda: self._call_moto_for(route, environ, body)), start_response)

    def handle(self, request: Request, moto_answer: Callable[[], Response]) -> Response:
        """Serve a named request: gates, validators, the override or else `moto_answer()`, then the after hooks.

        Requests over HTTP come here, and so do the ones localaws makes of itself in-process (an S3 notification's
        Invoke or SendMessage, s3_events/delivery.py), which are thereby accepted or refused exactly as over HTTP;
        their `moto_answer` calls moto's backend directly."""
        for gate in self._gates:
            refusal = gate(request)
            if refusal is not None:
                return refusal
        key = (request.route.service, request.route.operation)
        for validator in self._validators.get(key, ()):
            rejection = validator(request)
            if rejection is not None:
                return rejection
        override = self._overrides.get(key)
        response = override(request) if override is not None else None
        if response is None:
            response = moto_answer()
        if response.ok:
            for hook in self._after.get(key, ()):
                hook(request, response)
        return response

    def _call_moto_for(self, route: Route, environ: dict[str, Any], body: bytes) -> Response:
        from localaws import unimplemented  # it builds on this module's Response and error shapes

        try:
            return self.call_moto(_rewound(environ, body))
        except NotImplementedError:
            log.warning("moto does not implement %s %s", route.service, route.operation)
            return unimplemented.not_implemented(route)
        except Exception:  # the server's boundary: a crash in moto fails this request, in AWS's shape
            log.exception("moto failed on %s %s", route.service, route.operation)
            return unimplemented.internal_failure(route)

    def _serve_internal(self, path: str, environ: dict[str, Any]) -> Response:
        name = path.removeprefix("/_localaws/").strip("/")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if name in self._controls:
            return self._controls[name](environ["REQUEST_METHOD"], query, _read_body(environ))
        handler = self._internal.get(name)
        if handler is None:
            return json_response({"error": f"no such localaws endpoint: {name}"}, 404)
        return handler(query)

    def _health(self, _query: dict[str, list[str]]) -> Response:
        return json_response({"status": "ok", "endpoint": self.endpoint, "pending": self.activity.pending})

    def _idle(self, query: dict[str, list[str]]) -> Response:
        timeout = float(query.get("timeout", ["30"])[0])
        idle = self.activity.wait_idle(timeout)
        payload = {"idle": idle, "pending": self.activity.pending}
        return json_response(payload, 200 if idle else 408)

    @staticmethod
    def _send(response: Response, start_response: Callable) -> list[bytes]:
        given = [v for k, v in response.headers if k.lower() == "content-length"]
        headers = [(k, v) for k, v in response.headers if k.lower() != "content-length"]
        # A HEAD answer has no body but must keep the object's length (pyarrow and s3fs size files by it).
        length = given[0] if given and not response.body else str(len(response.body))
        headers.append(("Content-Length", length))
        start_response(f"{response.status} {_reason(response.status)}", headers)
        return [response.body]


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        return stream.read(int(length))
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked" or environ.get("wsgi.input_terminated"):
        return stream.read()
    return b""


def _rewound(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    import io

    copy = dict(environ)
    copy["wsgi.input"] = io.BytesIO(body)
    copy["CONTENT_LENGTH"] = str(len(body))
    copy.pop("HTTP_TRANSFER_ENCODING", None)
    return copy


class Server:
    """localaws on a loopback port, in a background thread of this process."""

    def __init__(self, app: LocalAws, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"localaws binds to loopback only, not {host!r}")
        self.app = app
        self._server = HttpServer(host, port, app)  # bound here: a port in use is an OSError to report
        self.port = self._server.port
        self.endpoint = f"http://{host}:{self.port}"
        app.endpoint = self.endpoint
        self._thread = threading.Thread(target=self._server.serve, name="localaws-http", daemon=True)

    def start(self) -> Server:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stop()  # stops accepting, closes idle connections, waits a while for requests in flight
        self._thread.join(timeout=10)
        self.app.shutdown()
