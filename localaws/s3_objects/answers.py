"""Responses finished as moto's S3 path finishes them (S3Response._send_response, then Flask's Response), so an
answer from the data plane equals moto's: the same status, headers, body and error XML, with fresh request ids."""

from __future__ import annotations

import random
import string
from typing import Any

from moto.core.responses import ActionResult
from moto.s3.exceptions import S3ClientError
from moto.s3.responses import S3Response
from werkzeug.http import remove_entity_headers

from localaws.server import Response

APP_XML = "application/xml"
FLASK_DEFAULT_TYPE = "text/html; charset=utf-8"  # what Flask's Response adds when moto names no content type
_ID_CHARACTERS = string.ascii_letters + string.digits


def request_id() -> str:
    """An x-amzn-requestid of moto's shape (52 letters and digits), drawn at once: moto's gen_amzn_requestid_long
    draws each character by itself, a tenth of a millisecond per answer."""
    return "".join(random.choices(_ID_CHARACTERS, k=52))


def finish(status: int, headers: dict[str, Any], body: bytes | str) -> Response:
    """moto's S3Response._send_response for a success: a request id, and XML's content type for an untyped body."""
    headers["x-amzn-requestid"] = request_id()
    return flask_response(status, headers, body)


def flask_response(status: int, headers: dict[str, Any], body: bytes | str) -> Response:
    if isinstance(body, str):
        body = body.encode("utf-8")
    if body and "content-type" not in (name.lower() for name in headers):
        headers["content-type"] = APP_XML
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = FLASK_DEFAULT_TYPE
    listed = [(name, str(value)) for name, value in headers.items()]
    if status in (204, 304):  # werkzeug's Response.get_wsgi_headers and get_app_iter: no body, no entity headers
        body = b""
        if status == 304:
            remove_entity_headers(listed)
    return Response(status, listed, body)


class _ErrorSerializer(S3Response):
    """moto's rest-xml error serialization, without a request to set up."""

    def __init__(self, operation: str) -> None:
        super().__init__()
        self.querystring = {"Action": [operation]}
        self.headers: dict[str, str] = {}
        self.response_headers = {"server": "amazon.com"}


def error(operation: str, exc: S3ClientError, enriched: bool = True) -> Response:
    """S3's XML error as moto writes it. `enriched=False`: as moto's range check answers, with no fresh request id."""
    status, headers, body = _ErrorSerializer(operation).serialized(ActionResult(exc))
    if enriched:
        status, headers, body = S3Response._send_response((status, headers, body))
    return flask_response(status, headers, body)
