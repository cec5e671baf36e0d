"""Glue Data Catalog operations moto lacks, answered from moto's own catalog: SearchTables.

https://docs.aws.amazon.com/glue/latest/webapi/API_SearchTables.html
"""

from __future__ import annotations

from localaws.glue_catalog.search import search_tables
from localaws.server import LocalAws


def install(app: LocalAws) -> None:
    app.override("glue", "SearchTables", lambda request: search_tables(app, request))
