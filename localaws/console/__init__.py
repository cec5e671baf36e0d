"""The localaws console: a same-origin page at /_localaws/console that shows the pipeline live.

The page (static/, plain HTML, CSS and JS, no build step, no CDN) polls small JSON endpoints, each a view of state
localaws already holds; the console keeps no store of its own:
- GET /_localaws/console/stacks    the stacks (etl-kit-stack tags of buckets)
- GET /_localaws/console/s3        objects by prefix (raw/, processed/, quarantine/, ...) with sizes
- GET /_localaws/console/invocations Lambda invocations from CloudWatch Logs (START/END/REPORT), each
                                   with the S3 event record its log names
- GET /_localaws/console/quarantine quarantine reports (<file>.error.json) and dead-letter messages
- GET /_localaws/console/crawls    crawls (ListCrawls) with the tables and partitions each added or changed
- GET /_localaws/console/queries   Athena query executions with SQL, state, bytes scanned, time, price
- GET /_localaws/console/iam       IAM denials, when localaws records IAM decisions (/_localaws/iam-usage)
- GET /_localaws/console/queues    SQS event source mappings of the stack's functions: messages waiting, in flight
                                   and delayed in each queue, batches running, invocations and throttles
- GET /_localaws/console/pipeline  the counts on the diagram's arrows, from the views above
Each view takes ?stack=<name>&region=<region> (default us-east-1). A resource belongs to stack s when its name is s,
starts with "s-", or is its Glue database; a bucket also when its etl-kit-stack tag is s.
"""

from __future__ import annotations

from importlib.resources import files

from localaws.console.views import Views
from localaws.server import LocalAws, Response, json_response

_ASSETS = {
    "console": ("index.html", "text/html; charset=utf-8"),
    "console/console.css": ("console.css", "text/css; charset=utf-8"),
    "console/console.js": ("console.js", "text/javascript; charset=utf-8"),
}


def _asset(name: str, content_type: str):
    def serve(_query: dict[str, list[str]]) -> Response:
        body = files("localaws.console").joinpath("static", name).read_bytes()
        return Response(200, [("Content-Type", content_type), ("Cache-Control", "no-cache")], body)

    return serve


def install(app: LocalAws) -> None:
    for path, (name, content_type) in _ASSETS.items():
        app.internal(path, _asset(name, content_type))
    views = Views(app)
    for name, view in views.endpoints().items():

        def serve(query: dict[str, list[str]], view=view) -> Response:
            stack = (query.get("stack") or [""])[0].strip()
            region = (query.get("region") or ["us-east-1"])[0]
            return json_response(view(stack, region), headers={"Content-Type": "application/json"})

        app.internal(f"console/{name}", serve)
