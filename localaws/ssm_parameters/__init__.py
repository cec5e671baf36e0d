"""AWS's public SSM parameters for the AWS SDK for pandas managed Lambda layer, answered by localaws.

On AWS, `/aws/service/aws-sdk-pandas/<version>/py<X.Y>/<x86_64|arm64>/layer-arn` is a *public* parameter that AWS
publishes in every region (https://aws-sdk-pandas.readthedocs.io/en/stable/install.html, aws/aws-sdk-pandas#2434);
its value is the region's layer ARN, e.g. arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python312:29.
moto does not know these parameters, so provision.py's lookup would fail locally. localaws answers them from
aws_sdk_pandas_layers.json: the layer ARNs AWS documents per release, region, Python and architecture
(docs/source/layers.rst of aws/aws-sdk-pandas, every release from 3.4.0, when the parameters appeared, up to the
snapshot of 2026-06-25). The layer's packages themselves come from the local environment (the Lambda runtime part).

GetParameter, GetParameters and GetParametersByPath answer these names; every other name goes to moto unchanged.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from localaws.server import LocalAws, Request, Response, json_error, json_response

PREFIX = "/aws/service/aws-sdk-pandas/"
_TABLE = Path(__file__).with_name("aws_sdk_pandas_layers.json")
_TABLE_TAKEN = datetime(2026, 6, 25, 12, 36, 51, tzinfo=UTC)  # the layers.rst snapshot the table comes from
_NAME = re.compile(
    r"^/aws/service/aws-sdk-pandas/(?P<version>[^/]+)/(?P<python>py\d+\.\d+)/(?P<arch>x86_64|arm64)/layer-arn$"
)
MAX_PAGE = 10  # GetParametersByPath's MaxResults limit


@cache
def _layers() -> dict[str, dict[str, list]]:
    return json.loads(_TABLE.read_text())


def layer_arn(version: str, python: str, arch: str, region: str) -> str | None:
    """The managed layer's ARN AWS documents for this release, Python ("py3.12"), architecture and region."""
    entry = _layers().get(version, {}).get(region)
    if entry is None:
        return None
    account, numbers = entry
    number = numbers.get(f"{python}/{arch}")
    if number is None:
        return None
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    name = f"AWSSDKPandas-Python{python.removeprefix('py').replace('.', '')}" + ("-Arm64" if arch == "arm64" else "")
    return f"arn:{partition}:lambda:{region}:{account}:layer:{name}:{number}"


def release_of(arn: str) -> str | None:
    """The AWS SDK for pandas release that published layer version `arn` in its region, or None if not listed."""
    parts = arn.split(":")  # arn:<partition>:lambda:<region>:<account>:layer:<name>:<number>
    match = re.fullmatch(r"AWSSDKPandas-Python(\d)(\d+)(-Arm64)?", parts[6]) if len(parts) == 8 else None
    if match is None:
        return None
    python, arch = f"py{match[1]}.{match[2]}", "arm64" if match[3] else "x86_64"
    # newest first: a layer version a release did not rebuild is listed again under the later releases
    return next((v for v in reversed(list(_layers())) if layer_arn(v, python, arch, parts[3]) == arn), None)


def parameter_names(region: str) -> list[str]:
    """Every layer-arn parameter that exists in `region`, sorted."""
    names = []
    for version, regions in _layers().items():
        for python_arch in regions.get(region, [None, {}])[1]:
            names.append(f"{PREFIX}{version}/{python_arch}/layer-arn")
    return sorted(names)


@dataclass(frozen=True)
class Parameter:
    name: str
    value: str
    region: str

    def shape(self) -> dict[str, Any]:
        """SSM's Parameter shape; public parameters' ARNs carry no account id."""
        partition = "aws-cn" if self.region.startswith("cn-") else "aws"
        return {
            "Name": self.name,
            "Type": "String",
            "Value": self.value,
            "Version": 1,
            "LastModifiedDate": _TABLE_TAKEN.timestamp(),
            "ARN": f"arn:{partition}:ssm:{self.region}::parameter{self.name}",
            "DataType": "text",
        }


def find_parameter(name: str, region: str) -> Parameter | None:
    name = _plain_name(name)
    match = _NAME.match(name)
    if not match:
        return None
    arn = layer_arn(match["version"], match["python"], match["arch"], region)
    return Parameter(name, arn, region) if arn else None


def _plain_name(name: str) -> str:
    """A name given as an ARN or with a ":1" version selector, reduced to the path."""
    if name.startswith("arn:"):
        name = name.split(":parameter", 1)[-1]
    return re.sub(r":\d+$", "", name)


def is_ours(name: str) -> bool:
    return _plain_name(name).startswith(PREFIX)


def install(app: LocalAws) -> None:
    def get_parameter(request: Request) -> Response:
        name = request.json().get("Name", "")
        if not is_ours(name):
            return _ask_moto(app, request)
        parameter = find_parameter(name, request.route.region)
        if parameter is None:
            return json_error("ParameterNotFound", f"Parameter {name} not found.")
        return json_response({"Parameter": parameter.shape()})

    def get_parameters(request: Request) -> Response:
        payload = request.json()
        names = payload.get("Names", [])
        ours = [name for name in names if is_ours(name)]
        if not ours:
            return _ask_moto(app, request)
        theirs = [name for name in names if not is_ours(name)]
        answer: dict[str, Any] = {"Parameters": [], "InvalidParameters": []}
        if theirs:
            moto_answer = _ask_moto(app, request, {**payload, "Names": theirs})
            if not moto_answer.ok:
                return moto_answer
            answer = moto_answer.json()
        for name in ours:
            parameter = find_parameter(name, request.route.region)
            if parameter is None:
                answer.setdefault("InvalidParameters", []).append(name)
            else:
                answer.setdefault("Parameters", []).append(parameter.shape())
        return json_response(answer)

    def get_parameters_by_path(request: Request) -> Response:
        payload = request.json()
        path = payload.get("Path", "")
        if not (path.rstrip("/") + "/").startswith(PREFIX):
            return _ask_moto(app, request)
        base = path.rstrip("/") + "/"
        recursive = bool(payload.get("Recursive", False))
        found = [
            name
            for name in parameter_names(request.route.region)
            if name.startswith(base) and (recursive or "/" not in name[len(base) :])
        ]
        page_size = min(int(payload.get("MaxResults", MAX_PAGE)), MAX_PAGE)
        start = int(payload.get("NextToken") or 0)
        page = found[start : start + page_size]
        answer: dict[str, Any] = {"Parameters": [find_parameter(name, request.route.region).shape() for name in page]}
        if start + page_size < len(found):
            answer["NextToken"] = str(start + page_size)
        return json_response(answer)

    app.override("ssm", "GetParameter", get_parameter)
    app.override("ssm", "GetParameters", get_parameters)
    app.override("ssm", "GetParametersByPath", get_parameters_by_path)


def _ask_moto(app: LocalAws, request: Request, payload: dict[str, Any] | None = None) -> Response:
    """Forward the request to moto unchanged (or with a narrowed JSON payload)."""
    body = request.body if payload is None else json.dumps(payload).encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "PATH_INFO": request.path,
        "QUERY_STRING": "&".join(f"{k}={v}" for k, values in request.query.items() for v in values),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "0",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "CONTENT_LENGTH": str(len(body)),
    }
    for key, value in request.headers.items():
        if key == "content-type":
            environ["CONTENT_TYPE"] = value
        elif key != "content-length":
            environ["HTTP_" + key.upper().replace("-", "_")] = value
    return app.call_moto(environ)
