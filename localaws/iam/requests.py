"""What a request asks IAM for: the actions, the resource ARN of each, and the request's condition keys.

Action names follow the Service Authorization Reference (https://docs.aws.amazon.com/service-authorization/latest/
reference/reference_policies_actions-resources-contextkeys.html): most are the API operation's name; where they differ
(S3's ListObjectsV2 is s3:ListBucket, HeadObject is s3:GetObject, Lambda's Invoke is lambda:InvokeFunction) the table
below says so. Where an operation is authorized on several resources (Glue checks the catalog, the database and the
table), each is a check and all must pass. A service or operation not described here is checked on resource "*".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

from localaws.iam.evaluation import Context
from localaws.server import Request

# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
S3_ACTIONS = {
    "CopyObject": "PutObject",
    "HeadObject": "GetObject",
    "HeadBucket": "ListBucket",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "ListBuckets": "ListAllMyBuckets",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "UploadPartCopy": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "ListParts": "ListMultipartUploadParts",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "DeleteObjects": "DeleteObject",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeleteBucketTagging": "PutBucketTagging",
    "DeleteBucketOwnershipControls": "PutBucketOwnershipControls",
    "DeleteBucketCors": "PutBucketCORS",
    "PutBucketCors": "PutBucketCORS",
    "GetBucketCors": "GetBucketCORS",
    "DeleteObjectTagging": "DeleteObjectTagging",
}
_S3_VERSIONED = {
    "GetObject": "GetObjectVersion",
    "HeadObject": "GetObjectVersion",
    "DeleteObject": "DeleteObjectVersion",
}
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html
LAMBDA_ACTIONS = {
    "Invoke": "InvokeFunction",
    "InvokeAsync": "InvokeFunction",
    "InvokeWithResponseStream": "InvokeFunction",
}
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html: a batch is authorized as
# the action it batches.
SQS_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
# Event source mapping operations act on the mapping (arn:...:event-source-mapping:UUID; "*" to list, and a new
# mapping's UUID is not known yet), with lambda:FunctionArn naming its function:
# https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html
_ESM_OPERATIONS = frozenset(
    {"CreateEventSourceMapping", "UpdateEventSourceMapping", "DeleteEventSourceMapping", "GetEventSourceMapping"}
)
# The IAM service prefix, where it differs from botocore's service name.
PREFIXES = {"stepfunctions": "states", "cloudwatch": "cloudwatch", "opensearch": "es", "emr": "elasticmapreduce"}
# Glue operations authorized on the catalog, the database and a table (https://docs.aws.amazon.com/glue/latest/dg/
# glue-specifying-resource-arns.html): which request members name the database and the table.
_GLUE_TABLE_MEMBERS = (("DatabaseName", "TableName"), ("DatabaseName", "Name"), ("DatabaseName", "TableInput.Name"))


@dataclass(frozen=True)
class Check:
    action: str  # e.g. "s3:GetObject"
    resource: str  # an ARN, or "*"


@dataclass
class Ask:
    """Everything IAM evaluates for one request."""

    checks: list[Check]
    context: Context = field(default_factory=dict)
    bucket: str | None = None  # S3: whose bucket policy applies
    function: str | None = None  # Lambda: whose resource policy applies


def _body(request: Request) -> dict:
    try:
        loaded = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _member(body: dict, dotted: str) -> str | None:
    value = body
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None


def _params(request: Request) -> dict[str, str]:
    """Query-protocol parameters (IAM, STS, SQS's query form) from the query string and a form body."""
    from urllib.parse import parse_qs

    params = {k: v[0] for k, v in request.query.items()}
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        params |= {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
    return params


def describe(request: Request, account: str) -> Ask:
    route = request.route
    service, operation, region = route.service, route.operation, route.region
    context: Context = {
        "aws:securetransport": ["true"],  # localaws stands in for AWS's HTTPS endpoints
        "aws:requestedregion": [region],
    }
    builder = _BUILDERS.get(service)
    if builder is not None:
        return builder(request, account, region, context)
    prefix = PREFIXES.get(service, service)
    return Ask([Check(f"{prefix}:{operation}", "*")], context)


def _s3(request: Request, account: str, region: str, context: Context) -> Ask:
    operation = request.route.operation
    bucket = unquote(request.route.path_params.get("Bucket", "")) or None
    key = unquote(request.route.path_params.get("Key", "")) if request.route.path_params.get("Key") else None
    action = S3_ACTIONS.get(operation, operation)
    if "versionId" in request.query and operation in _S3_VERSIONED:
        action = _S3_VERSIONED[operation]
    if operation in ("ListObjects", "ListObjectsV2", "ListObjectVersions"):
        for name in ("prefix", "delimiter", "max-keys"):
            if name in request.query:
                context[f"s3:{name}"] = [request.query[name][0]]
    if bucket is None:
        return Ask([Check(f"s3:{action}", "*")], context)
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if operation == "DeleteObjects":
        keys = _deleted_keys(request.body)
        return Ask([Check("s3:DeleteObject", f"{bucket_arn}/{k}") for k in keys], context, bucket)
    checks = [Check(f"s3:{action}", f"{bucket_arn}/{key}" if key is not None else bucket_arn)]
    source = request.headers.get("x-amz-copy-source")
    if source and operation in ("CopyObject", "UploadPartCopy"):
        parts = urlsplit(unquote(source).lstrip("/"))
        source_action = "s3:GetObjectVersion" if "versionId=" in parts.query else "s3:GetObject"
        checks.append(Check(source_action, f"arn:aws:s3:::{parts.path}"))
    return Ask(checks, context, bucket)


def _deleted_keys(body: bytes) -> list[str]:
    try:
        root = ElementTree.fromstring(body or b"<Delete/>")
    except ElementTree.ParseError:
        return []
    return [element.text or "" for element in root.iter() if element.tag.rsplit("}", 1)[-1] == "Key"]


def _lambda(request: Request, account: str, region: str, context: Context) -> Ask:
    operation = request.route.operation
    action = f"lambda:{LAMBDA_ACTIONS.get(operation, operation)}"
    if operation in _ESM_OPERATIONS:
        return _event_source_mapping(request, account, region, context, action)
    if operation == "ListEventSourceMappings":
        return Ask([Check(action, "*")], context)
    name = unquote(request.route.path_params.get("FunctionName", "")) or _member(_body(request), "FunctionName")
    if not name:
        layer = request.route.path_params.get("LayerName")
        if layer:
            version = request.route.path_params.get("VersionNumber")
            arn = layer if layer.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:layer:{layer}"
            return Ask([Check(action, f"{arn}:{version}" if version else arn)], context)
        return Ask([Check(action, "*")], context)
    function = name.split(":function:")[-1].split(":")[0] if name.startswith("arn:") else name.split(":")[0]
    arn = f"arn:aws:lambda:{region}:{account}:function:{function}"
    return Ask([Check(action, arn)], context, function=function)


def _event_source_mapping(request: Request, account: str, region: str, context: Context, action: str) -> Ask:
    uuid = request.route.path_params.get("UUID", "*")
    name = _member(_body(request), "FunctionName")
    if name:
        function = name.split(":function:")[-1] if name.startswith("arn:") else name
        context["lambda:functionarn"] = [f"arn:aws:lambda:{region}:{account}:function:{function}"]
    return Ask([Check(action, f"arn:aws:lambda:{region}:{account}:event-source-mapping:{uuid}")], context)


def _logs(request: Request, account: str, region: str, context: Context) -> Ask:
    body = _body(request)
    action = f"logs:{request.route.operation}"
    group = body.get("logGroupName")
    if not isinstance(group, str):
        return Ask([Check(action, "*")], context)
    arn = f"arn:aws:logs:{region}:{account}:log-group:{group}"
    stream = body.get("logStreamName")
    if isinstance(stream, str) and request.route.operation in ("CreateLogStream", "PutLogEvents", "GetLogEvents"):
        return Ask([Check(action, f"{arn}:log-stream:{stream}")], context)
    return Ask([Check(action, arn if request.route.operation == "CreateLogGroup" else f"{arn}:*")], context)


def _glue(request: Request, account: str, region: str, context: Context) -> Ask:
    operation = request.route.operation
    body = _body(request)
    action = f"glue:{operation}"

    def arn(resource: str) -> str:
        return f"arn:aws:glue:{region}:{account}:{resource}"

    if "Crawler" in operation:
        name = body.get("Name") or body.get("CrawlerName")
        return Ask([Check(action, arn(f"crawler/{name}") if isinstance(name, str) else "*")], context)
    catalog = arn("catalog")
    database = body.get("DatabaseName") or (body.get("Name") if "Database" in operation else None)
    database = database or _member(body, "DatabaseInput.Name")
    if not isinstance(database, str):
        return Ask([Check(action, catalog)], context)
    checks = [Check(action, catalog), Check(action, arn(f"database/{database}"))]
    if "Database" in operation:
        return Ask(checks, context)
    table = None
    for _, member in _GLUE_TABLE_MEMBERS:
        table = table or _member(body, member)
    if operation in ("GetTables", "SearchTables") or table is None:
        checks.append(Check(action, arn(f"table/{database}/*")))
    else:
        checks.append(Check(action, arn(f"table/{database}/{table}")))
    return Ask(checks, context)


def _athena(request: Request, account: str, region: str, context: Context) -> Ask:
    group = _member(_body(request), "WorkGroup")
    action = f"athena:{request.route.operation}"
    if group is None and request.route.operation in ("StartQueryExecution", "ListQueryExecutions"):
        group = "primary"
    return Ask([Check(action, f"arn:aws:athena:{region}:{account}:workgroup/{group}" if group else "*")], context)


def _sqs(request: Request, account: str, region: str, context: Context) -> Ask:
    url = _member(_body(request), "QueueUrl") or _params(request).get("QueueUrl")
    action = f"sqs:{SQS_ACTIONS.get(request.route.operation, request.route.operation)}"
    if not url:
        name = _member(_body(request), "QueueName") or _params(request).get("QueueName")
        return Ask([Check(action, f"arn:aws:sqs:{region}:{account}:{name}" if name else "*")], context)
    return Ask([Check(action, f"arn:aws:sqs:{region}:{account}:{url.rstrip('/').rsplit('/', 1)[-1]}")], context)


_IAM_RESOURCES = (
    ("UserName", "user"),
    ("RoleName", "role"),
    ("GroupName", "group"),
    ("InstanceProfileName", "instance-profile"),
)


def _iam(request: Request, account: str, region: str, context: Context) -> Ask:
    params = _params(request)
    action = f"iam:{request.route.operation}"
    policy_arn = params.get("PolicyArn")
    for member, kind in _IAM_RESOURCES:
        if member in params:
            path = params.get("Path", "/") if request.route.operation.startswith("Create") else "/"
            return Ask([Check(action, f"arn:aws:iam::{account}:{kind}{path}{params[member]}")], context)
    if policy_arn and not request.route.operation.startswith("Attach"):
        return Ask([Check(action, policy_arn)], context)
    if "PolicyName" in params and request.route.operation == "CreatePolicy":
        return Ask(
            [Check(action, f"arn:aws:iam::{account}:policy{params.get('Path', '/')}{params['PolicyName']}")], context
        )
    return Ask([Check(action, "*")], context)


def _sts(request: Request, account: str, region: str, context: Context) -> Ask:
    params = _params(request)
    action = f"sts:{request.route.operation}"
    role = params.get("RoleArn")
    return Ask([Check(action, role or "*")], context)


def _ssm(request: Request, account: str, region: str, context: Context) -> Ask:
    body = _body(request)
    action = f"ssm:{request.route.operation}"
    names = [body["Name"]] if isinstance(body.get("Name"), str) else body.get("Names") or []
    path = body.get("Path")
    names = names or ([path] if isinstance(path, str) else [])
    if not names:
        return Ask([Check(action, "*")], context)
    return Ask(
        [Check(action, f"arn:aws:ssm:{region}:{account}:parameter/{re.sub('^/', '', n)}") for n in names], context
    )


_BUILDERS = {
    "s3": _s3,
    "lambda": _lambda,
    "logs": _logs,
    "glue": _glue,
    "athena": _athena,
    "sqs": _sqs,
    "iam": _iam,
    "sts": _sts,
    "ssm": _ssm,
}
