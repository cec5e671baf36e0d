"""An operation moto does not have answers as AWS answers an action it does not serve, never with an HTML page.

moto raises NotImplementedError for such an operation, and that (like any crash in moto) reached werkzeug, which
answered an HTML 500 that botocore retries five times before showing the HTML. Here the answer is in the service's
own error shape: 400 InvalidAction, final at once, for an operation moto lacks (https://docs.aws.amazon.com/athena/latest/
APIReference/CommonErrors.html: "The action or operation requested is invalid"), 500 InternalFailure when moto crashed.
"""

from __future__ import annotations

from functools import cache

import botocore.session

from localaws.routing import Route
from localaws.server import Response, json_error, xml_error


@cache
def _protocol(service: str) -> str:
    return botocore.session.get_session().get_service_model(service).metadata["protocol"]


def not_implemented(route: Route) -> Response:
    """400 InvalidAction, in the service's protocol, for an operation moto does not have."""
    return _error(
        route, "InvalidAction", f"localaws does not implement the {route.service} operation {route.operation}", 400
    )


def internal_failure(route: Route) -> Response:
    """500 InternalFailure, in the service's protocol, when moto crashed on the request (the log has the trace)."""
    return _error(route, "InternalFailure", f"localaws (moto) failed on {route.service} {route.operation}", 500)


def _error(route: Route, code: str, message: str, status: int) -> Response:
    if _protocol(route.service) in ("json", "rest-json"):
        return json_error(code, message, status)
    return xml_error(code, message, status)
