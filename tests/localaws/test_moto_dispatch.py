"""localaws resolves moto's service for a host once, not on every request (localaws/moto_dispatch.py)."""

from __future__ import annotations

from moto import backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from localaws.moto_dispatch import CachedDomainDispatcher


def test_a_host_resolves_to_the_service_moto_picks(monkeypatch):
    plain = DomainDispatcherApplication(create_backend_app)
    cached = CachedDomainDispatcher(create_backend_app)
    for host in ("s3.us-east-1.amazonaws.com", "lambda.eu-west-1.amazonaws.com", "glue.us-east-1.amazonaws.com", None):
        assert cached.get_backend_for_host(host) == plain.get_backend_for_host(host)


def test_the_service_of_a_host_is_resolved_once(monkeypatch):
    listings = []
    original = backends.list_of_moto_modules

    def counted():
        listings.append(1)
        return original()

    monkeypatch.setattr(backends, "list_of_moto_modules", counted)
    dispatcher = CachedDomainDispatcher(create_backend_app)
    for _ in range(5):
        assert dispatcher.get_backend_for_host("s3.us-east-1.amazonaws.com") == "s3"
    assert len(listings) == 1
