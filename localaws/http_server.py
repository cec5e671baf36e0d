"""localaws's HTTP layer: cheroot (https://cheroot.cherrypy.dev/), an HTTP/1.1 server with keep-alive connections
and a pool of worker threads, serving the WSGI app on a loopback port.

Why not werkzeug's development server, which moto ships: it answers every request with `Connection: close`, so each
boto3 call opened a TCP connection and the server started a thread for it. cheroot keeps connections open between
requests (idle ones wait in a selector, not in a thread), answers `Expect: 100-continue` at once (boto3's PutObject
sends it), de-chunks chunked request bodies, and stops cleanly.

What werkzeug and moto's `MotoRequestHandler` put in the WSGI environ, and moto reads, is kept here (`_Gateway`):
- RAW_URI, the request target as sent, from which moto's Request.raw_path takes S3 keys with encoded slashes;
- PATH_INFO percent-decoded whole, `%2F` too, as werkzeug does (cheroot keeps `%2F` encoded);
- headers whose names hold `_` are dropped, as werkzeug does, except S3 user metadata (`x-amz-meta-my_key`), which
  moto keeps under its own name (moto.core.request.PRESERVED_HEADER_NAMES_ENVIRON_KEY).

Worker threads: a synchronous Invoke holds its worker while the function calls back into this server (and
/_localaws/idle holds one while the work it waits for does the same), so a fixed pool could deadlock. The pool starts
with MIN_THREADS, starts one more worker only when a request arrives while every worker is busy, and never goes past
MAX_THREADS; workers are reused, never started per request.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any
from urllib.parse import unquote, urlsplit

from cheroot import wsgi
from cheroot.workers import threadpool
from moto.core.request import (
    PRESERVED_HEADER_NAMES_ENVIRON_KEY,
    environ_key_for_header,
    should_preserve_original_header_name,
)

log = logging.getLogger("localaws.http")

MIN_THREADS = 8
MAX_THREADS = 256
KEEP_ALIVE_CONNECTIONS = 512  # idle keep-alive connections kept open (cheroot's default, 10, drops a 16-thread burst's)
LISTEN_BACKLOG = socket.SOMAXCONN  # cheroot's default, 5, refuses connections a burst opens at once
IDLE_CONNECTION_SECONDS = 30  # an idle keep-alive connection is closed after this; urllib3 reconnects by itself
STOP_SECONDS = 5.0  # how long stop() waits for requests in flight


class _Gateway(wsgi.Gateway_10):
    """cheroot's WSGI 1.0 gateway, with the environ werkzeug and moto's MotoRequestHandler build (see the module)."""

    def get_environ(self) -> dict[str, Any]:
        environ = {key: value for key, value in super().get_environ().items() if not key.startswith("HTTP_")}
        environ.pop("CONTENT_TYPE", None)
        environ.pop("CONTENT_LENGTH", None)
        raw_uri = environ["REQUEST_URI"]
        environ["RAW_URI"] = raw_uri
        url = urlsplit(raw_uri)
        path = f"/{url.netloc}{url.path}" if not url.scheme and url.netloc else url.path
        environ["PATH_INFO"] = unquote(path).encode("utf-8").decode("latin-1")  # werkzeug's, PEP 3333's str
        headers = [
            (k.decode("latin-1"), v.decode("latin-1").replace("\r\n", "")) for k, v in self.req.inheaders.items()
        ]
        for name, value in headers:
            if "_" not in name:
                environ[environ_key_for_header(name)] = value
        names: dict[str, str] = {}
        for name, value in headers:
            key = environ_key_for_header(name)
            if "_" not in name or not should_preserve_original_header_name(name):
                continue
            if key in environ and key not in names:
                continue  # never let an underscored header stand in for a dashed one (moto's rule)
            environ[key] = f"{environ[key]},{value}" if key in names else value
            names.setdefault(key, name)
        environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = names
        return environ


class _Workers(threadpool.ThreadPool):
    """cheroot's thread pool, growing on demand up to `max` (see the module), with daemon workers that stop() does
    not wait for past its timeout: a request stuck in the app (a function that hangs) must not hang the stop."""

    def put(self, obj: Any) -> None:
        super().put(obj)
        if self.qsize > self.idle:
            self.grow(1)

    def grow(self, amount: int) -> None:
        # cheroot's grow polls each new worker with sleep(0.1) until it runs: 100 ms of a stalled connection manager
        for _ in range(min(amount, max(self.max - len(self._threads), 0))):
            self._threads.append(self._spawn_worker())

    def _spawn_worker(self) -> threadpool.WorkerThread:
        worker = threadpool.WorkerThread(self.server)
        worker.name = f"localaws-http-worker-{len(self._threads)}"
        worker.daemon = True
        worker.start()
        return worker

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        workers = list(self._clear_threads())
        for _ in workers:
            self._queue.put(threadpool._SHUTDOWNREQUEST)
        deadline = time.monotonic() + timeout
        stuck = 0
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                stuck += 1
                self._force_close(worker.conn)
        if stuck:
            log.warning("stopped with %d request(s) still in the app after %.0f s", stuck, timeout)


class HttpServer(wsgi.Server):
    """`app` on (host, port) with keep-alive and a bounded pool; port 0 picks a free port (`port` tells which)."""

    keep_alive_conn_limit = KEEP_ALIVE_CONNECTIONS

    def __init__(self, host: str, port: int, app: Any) -> None:
        super().__init__(
            (host, port),
            app,
            numthreads=MIN_THREADS,
            max=MAX_THREADS,
            request_queue_size=LISTEN_BACKLOG,
            timeout=IDLE_CONNECTION_SECONDS,
            shutdown_timeout=STOP_SECONDS,
        )
        self.gateway = _Gateway
        self.requests = _Workers(self, min=MIN_THREADS, max=MAX_THREADS)
        self.prepare()  # binds now, so a port in use is an OSError for the caller

    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
        log.log(level, "%s", msg, exc_info=traceback)

    @property
    def port(self) -> int:
        return self.bind_addr[1]
