"""Connect pyathena to Athena, or to the endpoint AWS_ENDPOINT_URL names (localaws), with the same code.

Every pyathena cursor reaches S3 through boto3, which honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_S3, except
ArrowCursor: it reads result files through `pyarrow.fs.S3FileSystem(region=..., access_key=...)`, and pyarrow's
constructor ignores those variables (only `FileSystem.from_uri` reads them), so against a local endpoint it asks
`<bucket>.s3.<region>.amazonaws.com`. `connect()` is `pyathena.connect()` plus one thing: when botocore resolves a
configured S3 endpoint, ArrowCursor's filesystem of this connection uses that endpoint too. On AWS nothing changes.

    from kit.athena_client import connect
    from pyathena.arrow.cursor import ArrowCursor
    table = connect(work_group="etl").cursor(ArrowCursor).execute("SELECT 1").as_arrow()
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import pyathena
from pyarrow import fs
from pyathena.arrow.result_set import AthenaArrowResultSetMetadataReader
from pyathena.connection import Connection

log = logging.getLogger(__name__)

_ENDPOINT_ATTRIBUTE = "_kit_s3_endpoint_url"
_AWS_DOMAINS = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


def configured_s3_endpoint(connection: Connection) -> str | None:
    """The S3 endpoint botocore uses for this connection's session when one is configured, else None (AWS)."""
    url = connection.session.client("s3", region_name=connection.region_name).meta.endpoint_url
    host = urlsplit(url).hostname or ""
    return None if host.endswith(_AWS_DOMAINS) else url


def connect(**kwargs: Any) -> Connection:
    """pyathena.connect(**kwargs), whose ArrowCursor also reads results from a configured S3 endpoint."""
    connection = pyathena.connect(**kwargs)
    endpoint = configured_s3_endpoint(connection)
    if endpoint is not None:
        setattr(connection, _ENDPOINT_ATTRIBUTE, endpoint)
        _route_arrow_results_through_configured_endpoint()
    return connection


def _arrow_filesystem(reader: AthenaArrowResultSetMetadataReader, endpoint: str) -> fs.S3FileSystem:
    """What pyathena builds (region, session credentials, timeouts), plus the endpoint botocore uses."""
    connection = reader._connection
    parts = urlsplit(endpoint)
    options: dict[str, Any] = {
        "region": connection.region_name,
        "endpoint_override": parts.netloc,
        "scheme": parts.scheme or "https",
    }
    if reader._connect_timeout is not None:
        options["connect_timeout"] = reader._connect_timeout
    if reader._request_timeout is not None:
        options["request_timeout"] = reader._request_timeout
    credentials = connection.session.get_credentials()
    if credentials:
        frozen = credentials.get_frozen_credentials()
        options.update(access_key=frozen.access_key, secret_key=frozen.secret_key, session_token=frozen.token)
    return fs.S3FileSystem(**options)


def _route_arrow_results_through_configured_endpoint() -> None:
    """Install once: connections made by connect() with an endpoint get a filesystem on it; others are untouched.

    pyathena 4.2.1 creates the filesystem in AthenaArrowResultSetMetadataReader._create_s3_file_system and has no
    option for an endpoint; tests/localaws/test_athena_cursors.py pins this behaviour.
    """
    reader_class = AthenaArrowResultSetMetadataReader
    if getattr(reader_class, "_kit_routed", False):
        return
    original = reader_class._create_s3_file_system

    def create_s3_file_system(self: AthenaArrowResultSetMetadataReader) -> Any:
        endpoint = getattr(self._connection, _ENDPOINT_ATTRIBUTE, None)
        return original(self) if endpoint is None else _arrow_filesystem(self, endpoint)

    reader_class._create_s3_file_system = create_s3_file_system  # type: ignore[method-assign]
    reader_class._kit_routed = True  # type: ignore[attr-defined]
    log.debug("ArrowCursor results of kit connections are read through their configured S3 endpoint")
