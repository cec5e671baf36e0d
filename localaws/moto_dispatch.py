"""moto's host-to-service dispatch, with the answer for each host remembered.

moto's DomainDispatcherApplication resolves the service of every request from scratch: it lists and stats every entry
of moto's package folder (`backends.list_of_moto_modules`), then tries each service's URL regex in turn. Under
localaws' moto lock that ran once per request and was the largest single cost of a burst of small S3 requests. The
mapping from a host name (e.g. "s3.us-east-1.amazonaws.com", which moto derives from the SigV4 credential scope) to a
service depends only on moto's installed files and URL patterns, which do not change while the server runs, so it is
computed once per host.
"""

from __future__ import annotations

from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

MAX_HOSTS = 4096  # service x region names; more means hosts made up by clients, resolved afresh rather than stored


class CachedDomainDispatcher(DomainDispatcherApplication):
    """DomainDispatcherApplication whose `get_backend_for_host` is resolved once per host (moto calls it locked)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._backend_by_host: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        try:
            return self._backend_by_host[host]
        except KeyError:
            backend = super().get_backend_for_host(host)
        if len(self._backend_by_host) < MAX_HOSTS:
            self._backend_by_host[host] = backend
        return backend
