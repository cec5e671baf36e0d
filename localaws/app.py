"""Assemble localaws: moto's control plane plus every data-plane part, each named after the AWS service it plays."""

from __future__ import annotations

from localaws import (
    athena,
    console,
    glue_catalog,
    glue_crawler,
    iam,
    lambda_runtime,
    s3_bucket_policy,
    s3_conditional_copy,
    s3_events,
    s3_objects,
    ssm_parameters,
)
from localaws.browser_guard import BrowserGuard
from localaws.server import LocalAws

PARTS = (
    iam,
    s3_bucket_policy,
    s3_conditional_copy,
    s3_events,
    s3_objects,
    ssm_parameters,
    lambda_runtime,
    glue_catalog,
    glue_crawler,
    athena,
    console,  # last: it reads what the others answer
)


def build_app(guard: BrowserGuard | None = None) -> LocalAws:
    app = LocalAws(guard=guard or BrowserGuard.from_settings())
    for part in PARTS:
        part.install(app)
    return app
