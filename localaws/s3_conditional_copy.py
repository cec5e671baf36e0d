"""CopyObject's `x-amz-copy-source-if-match`, which moto ignores: copy only while the source still has that ETag.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html: "Copies the object if its entity tag (ETag)
matches the specified tag"; otherwise S3 answers 412 PreconditionFailed and copies nothing. A validator reads the
header for the request's thread, and moto's own copy checks it under moto's lock, so no write to the source can slip
in between the check and the copy.
"""

from __future__ import annotations

import threading

from moto.s3.exceptions import PreconditionFailed

from localaws.server import LocalAws, Request

HEADER = "x-amz-copy-source-if-match"
_wanted = threading.local()


def _check_then_copy(original):
    def copy_object(self, src_key, *args, **kwargs):
        wanted, _wanted.etag = getattr(_wanted, "etag", None), None
        if wanted is not None and wanted.strip().strip('"') != src_key.etag.strip('"'):
            raise PreconditionFailed(HEADER)
        return original(self, src_key, *args, **kwargs)

    copy_object._localaws_checks_if_match = True  # type: ignore[attr-defined]
    return copy_object


def install(app: LocalAws) -> None:
    from moto.s3.models import S3Backend

    if not getattr(S3Backend.copy_object, "_localaws_checks_if_match", False):
        S3Backend.copy_object = _check_then_copy(S3Backend.copy_object)  # type: ignore[method-assign]

    def remember(request: Request) -> None:
        _wanted.etag = request.headers.get(HEADER)  # set (or cleared) for every CopyObject on this thread

    app.validate("s3", "CopyObject", remember)
