"""Which object requests the data plane answers itself, and the moto store each one addresses.

A request is answered here only when every part of it is understood: path-style addressing, no query parameter but a
versionId (GET, HEAD, DELETE), and only the headers listed for its operation. Anything else (ACLs, tagging, SSE or
object-lock headers, CORS origins, presigned URLs, virtual-host addressing...) is left to moto's S3Response unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace

from moto.core.responses import BaseResponse
from moto.iam.access_control import PermissionResult
from moto.iam.models import get_account_id_from, mark_account_as_visited
from moto.s3.models import FakeBucket, S3Backend, s3_backends
from moto.s3.responses import S3Response
from moto.utilities.utils import get_partition

from localaws.server import Request

# What boto3 and botocore send with every request; none of it changes what moto does with an object request.
_TRANSPORT = frozenset(
    {
        "host",
        "authorization",
        "x-amz-date",
        "x-amz-content-sha256",
        "x-amz-security-token",
        "user-agent",
        "x-amz-user-agent",
        "amz-sdk-invocation-id",
        "amz-sdk-request",
        "accept",
        "accept-encoding",
        "connection",
        "content-length",
        "content-type",  # for a read moto ignores it; a PUT stores it
        "expect",
    }
)
READ_HEADERS = _TRANSPORT | {
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "x-amz-checksum-mode",
}
WRITE_HEADERS = _TRANSPORT | {
    "content-md5",
    "content-encoding",
    "content-language",
    "content-disposition",
    "cache-control",
    "expires",
    "if-match",
    "if-none-match",
    "transfer-encoding",
    "x-amz-decoded-content-length",
    "x-amz-trailer",
    "x-amz-sdk-checksum-algorithm",
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
}
DELETE_HEADERS = _TRANSPORT | {"if-match"}
# A form body is parsed by moto's BaseResponse (the browser-upload POST path), so its PUT is left to moto.
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class ObjectTarget:
    bucket_name: str
    key_name: str
    access_key: str
    region: str
    version_id: str | None = None  # the versionId query parameter (GET, HEAD, DELETE)

    @property
    def resource(self) -> str:
        return f"arn:{get_partition(self.region)}:s3:::{self.bucket_name}/{self.key_name}"

    def backend(self) -> S3Backend:
        """moto's store for the caller's account, as S3Response picks it; call it under moto's lock."""
        account_id = os.environ.get("MOTO_ACCOUNT_ID") or get_account_id_from(self.access_key)
        mark_account_as_visited(account_id=account_id, access_key=self.access_key, service="s3", region=self.region)
        return s3_backends[account_id][get_partition(self.region)]


def plain_target(
    request: Request, allowed_headers: frozenset[str], meta: bool = False, versioned: bool = False
) -> ObjectTarget | None:
    """The object a plain request addresses, or None when moto should answer it (see the module docstring).
    `meta`: x-amz-meta-* headers are understood too (PutObject); `versioned`: so is one non-empty versionId."""
    version_id = None
    if versioned and set(request.query) == {"versionId"} and len(request.query["versionId"]) == 1:
        version_id = request.query["versionId"][0] or None
        if version_id is None:
            return None
    elif request.query:
        return None
    if request.route is None:
        return None
    for name in request.headers:
        if name not in allowed_headers and not (meta and name.startswith("x-amz-meta-")):
            return None
    if request.headers.get("content-type", "").lower().startswith(_FORM_TYPES):
        return None
    if not _path_style(request.headers.get("host", "")):
        return None
    bucket_name, key_name = request.route.path_params.get("Bucket"), request.route.path_params.get("Key")
    if not bucket_name or not key_name:
        return None
    match = BaseResponse.access_key_regex.search(request.headers.get("authorization", ""))
    access_key = match.group(1) if match else "AKIAEXAMPLE"
    return ObjectTarget(bucket_name, key_name, access_key, request.route.region, version_id)


def answerable_bucket(bucket: FakeBucket, action: str, target: ObjectTarget) -> bool:
    """False when moto's S3Response would do more than store or read the object: a bucket policy that denies the
    action (moto answers 403), server access logging (moto writes a log object), object lock (moto checks headers)."""
    if bucket.logging or bucket.object_lock_enabled:
        return False
    return bucket.policy is None or bucket.get_permission(action, target.resource) != PermissionResult.DENIED


@lru_cache(maxsize=256)
def _path_style(host: str) -> bool:
    """moto's own reading of the Host header; an AWS host name makes moto take the region from it, so it is left."""

    host_only = SimpleNamespace(headers={"host": host})
    return bool(host) and "amazonaws.com" not in host and not S3Response.subdomain_based_buckets(host_only)
