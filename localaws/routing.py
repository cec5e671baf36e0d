"""Name the AWS operation behind a raw HTTP request, whatever the service's wire protocol.

Signed requests carry their service and region in the SigV4 credential scope. The operation comes from
the X-Amz-Target header (json), the Action parameter (query), or the service model's method and URI
template (rest-json, rest-xml), so the data plane can hook any operation by its API name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import parse_qs

import botocore.session

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")
# Signing names that differ from botocore's service name. Looking one up otherwise means loading every service
# model botocore has (~15 s), so the common ones are named here; the scan stays as the fallback.
_SIGNING_NAME_TO_SERVICE = {
    "execute-api": "apigateway",
    "tagging": "resourcegroupstaggingapi",
    "monitoring": "cloudwatch",
    "states": "stepfunctions",
    "email": "ses",
    "elasticmapreduce": "emr",
    "es": "opensearch",
}
_HEADER_SELECTED = frozenset({"CopyObject", "UploadPartCopy"})


@dataclass(frozen=True)
class Route:
    service: str  # botocore's service name, e.g. "s3", "lambda", "glue"
    operation: str  # the API verb, e.g. "PutObject"
    region: str
    path_params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _RestOperation:
    name: str
    method: str
    pattern: re.Pattern[str]
    required_query: frozenset[str]
    literal_count: int


def _compile_uri(uri: str) -> tuple[re.Pattern[str], tuple[str, ...], int]:
    path, _, query = uri.partition("?")
    regex = ""
    literal = 0
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{"):
            name = piece[1:-1]
            greedy = name.endswith("+")
            name = name.rstrip("+")
            regex += f"(?P<{name}>.+)" if greedy else f"(?P<{name}>[^/]+)"
        else:
            regex += re.escape(piece)
            literal += len(piece)
    required = tuple(part.split("=")[0] for part in query.split("&") if part)
    # Bucket-level S3 URIs such as "/{Bucket}" also accept a trailing slash.
    return re.compile(f"^{regex}/?$"), required, literal + 10 * len(required)


def _required_query_members(operation) -> tuple[str, ...]:
    shape = operation.input_shape
    if shape is None:
        return ()
    return tuple(
        member.serialization["name"]
        for name, member in shape.members.items()
        if member.serialization.get("location") == "querystring" and name in shape.required_members
    )


@cache
def _service_model(service: str):
    return botocore.session.get_session().get_service_model(service)


@cache
def _rest_operations(service: str) -> tuple[_RestOperation, ...]:
    model = _service_model(service)
    operations = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        # Deprecated twins (PutBucketNotification) and header-selected ones (CopyObject) share a URI.
        if operation.deprecated or name in _HEADER_SELECTED:
            continue
        http = operation.http
        pattern, required, literal = _compile_uri(http["requestUri"])
        required += _required_query_members(operation)
        literal += 10 * len(required)
        operations.append(_RestOperation(name, http["method"], pattern, frozenset(required), literal))
    # Most specific first: more literal characters and more required query keys win.
    return tuple(sorted(operations, key=lambda op: -op.literal_count))


@cache
def _rest_operations_for(service: str, method: str) -> tuple[_RestOperation, ...]:
    """The service's operations of one HTTP method, most specific first: every S3 object request scans them."""
    return tuple(op for op in _rest_operations(service) if op.method == method)


def signing_scope(headers: dict[str, str]) -> tuple[str | None, str | None]:
    """(service signing name, region) from the Authorization header, or (None, None) when unsigned."""
    match = _SCOPE.search(headers.get("authorization", ""))
    if not match:
        return None, None
    return match["service"], match["region"]


@cache  # listing botocore's services reads its data directory: ~75 ms, once per signing name is enough
def _service_for_signing_name(signing_name: str) -> str | None:
    signing_name = _SIGNING_NAME_TO_SERVICE.get(signing_name, signing_name)
    session = botocore.session.get_session()
    if signing_name in session.get_available_services():
        return signing_name
    for service in session.get_available_services():
        if _service_model(service).signing_name == signing_name:
            return service
    return None


def identify(method: str, path: str, query_string: str, headers: dict[str, str], body: bytes) -> Route | None:
    """The (service, operation) a request asks for, or None when it cannot be named."""
    signing_name, region = signing_scope(headers)
    if not signing_name:
        return None
    service = _service_for_signing_name(signing_name)
    if service is None:
        return None
    model = _service_model(service)
    protocol = model.protocol
    if protocol == "json" or headers.get("x-amz-target"):
        target = headers.get("x-amz-target", "")
        return Route(service, target.rpartition(".")[2], region) if target else None
    if protocol in ("query", "ec2"):
        params = parse_qs(query_string) | parse_qs(body.decode("utf-8", "replace"))
        action = params.get("Action", [None])[0]
        return Route(service, action, region) if action else None
    query_keys = set(parse_qs(query_string, keep_blank_values=True))
    if service == "s3" and method == "PUT" and "x-amz-copy-source" in headers:
        op = "UploadPartCopy" if "partNumber" in query_keys else "CopyObject"
        match = re.match(r"^/(?P<Bucket>[^/]+)/(?P<Key>.+)$", path)
        return Route(service, op, region, match.groupdict() if match else {})
    for op in _rest_operations_for(service, method):
        if not op.required_query <= query_keys:
            continue
        match = op.pattern.match(path)
        if match:
            return Route(service, op.name, region, match.groupdict())
    return None
