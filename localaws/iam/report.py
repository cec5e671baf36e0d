"""`python -m localaws iam-report`: least privilege, measured. For each principal that signed requests (a role, for
all its sessions, or an IAM user):
- the actions and resources it used (allowed, and denied: what its policy is missing);
- what its identity policies allow that it never used (statement by statement);
- the smallest policy that would have allowed exactly what it did, S3 object keys widened to their top-level prefix.
The usage comes from GET /_localaws/iam-usage; the policies are read with the IAM API, as any client would.
Conditions are not carried into the smallest policy: re-add any the original needs (the crawler's s3:prefix).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import textwrap
import urllib.request
from collections import defaultdict
from typing import Any

import boto3

from localaws.iam.evaluation import Document, statements, wildcard_match

# Work localaws does itself, as the root, that AWS does with a role's credentials: such grants show as unused here.
REPORT_WIDTH = 100  # columns: the report is read in a terminal, and `make demo` prints the summary
SERVICE_SIDE_NOTE = (
    "  (Lambda's own log writes, DLQ/destination sends and SQS event source mapping polls are made by localaws, not "
    "with the role: on AWS the role's logs:CreateLogStream, logs:PutLogEvents, sqs:SendMessage, and the mapping's "
    "sqs:ReceiveMessage, sqs:DeleteMessage and sqs:GetQueueAttributes grants are used by Lambda itself.)"
)


def fetch_usage(endpoint: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{endpoint}/_localaws/iam-usage", timeout=30) as response:
        return json.loads(response.read())


def identity_policies(iam, principal_arn: str) -> list[tuple[str, Document]]:
    """(name, document) of every inline and attached policy of a role or user ARN; none once it was deleted."""
    try:
        return _identity_policies(iam, principal_arn)
    except iam.exceptions.NoSuchEntityException:
        return []


def _identity_policies(iam, principal_arn: str) -> list[tuple[str, Document]]:
    kind, _, name = principal_arn.split(":", 5)[-1].partition("/")
    name = name.rsplit("/", 1)[-1]
    found: list[tuple[str, Document]] = []
    if kind == "role":
        inline = iam.list_role_policies(RoleName=name)["PolicyNames"]
        found += [(p, iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]) for p in inline]
        attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    elif kind == "user":
        inline = iam.list_user_policies(UserName=name)["PolicyNames"]
        found += [(p, iam.get_user_policy(UserName=name, PolicyName=p)["PolicyDocument"]) for p in inline]
        attached = iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]
    else:
        return found
    for policy in attached:
        version = iam.get_policy(PolicyArn=policy["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=policy["PolicyArn"], VersionId=version)["PolicyVersion"]["Document"]
        found.append((policy["PolicyName"], json.loads(document) if isinstance(document, str) else document))
    return found


def _list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value] if value else []


def unused_grants(policies: list[tuple[str, Document]], used: list[dict]) -> list[dict]:
    """Allow statements' (action, resource) pairs that no allowed call matched."""
    allowed = [(u["action"], u["resource"]) for u in used if u["allowed"]]
    unused = []
    for name, document in policies:
        for statement in statements(document):
            if statement.get("Effect") != "Allow":
                continue
            for action in _list(statement.get("Action")):
                for resource in _list(statement.get("Resource")):
                    if not any(
                        wildcard_match(action, a, ignore_case=True) and wildcard_match(resource, r) for a, r in allowed
                    ):
                        unused.append({"policy": name, "sid": statement.get("Sid", ""), "action": action,
                                       "resource": resource})  # fmt: skip
    return unused


def widen(resource: str) -> str:
    """An S3 object ARN widened to its key's top-level prefix (bucket/raw/x/y.json -> bucket/raw/*)."""
    match = re.match(r"^(arn:aws:s3:::[^/]+)/([^/]+/)?", resource)
    if match and "/" in resource:
        return f"{match[1]}/{match[2] or ''}*"
    return resource


def smallest_policy(used: list[dict]) -> Document:
    """One statement per set of resources, with every action used on exactly those resources."""
    resources_by_action: dict[str, set[str]] = defaultdict(set)
    for call in used:
        resources_by_action[call["action"]].add(widen(call["resource"]))
    actions_by_resources: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for action, resources in sorted(resources_by_action.items()):
        actions_by_resources[tuple(sorted(resources))].append(action)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": list(resources)}
            for resources, actions in actions_by_resources.items()
        ],
    }


def build(endpoint: str, iam) -> dict[str, Any]:
    usage = fetch_usage(endpoint)
    report: dict[str, Any] = {"mode": usage.get("mode"), "principals": {}}
    for arn, used in usage["principals"].items():
        policies = identity_policies(iam, arn)
        report["principals"][arn] = {
            "used": [u for u in used if u["allowed"]],
            "denied": [u for u in used if not u["allowed"]],
            "allowed_but_unused": unused_grants(policies, used),
            "smallest_policy": smallest_policy(used),
        }
    return report


def render(report: dict[str, Any]) -> str:
    lines = [f"IAM least-privilege report (LOCALAWS_IAM={report['mode']})"]
    if not report["principals"]:
        lines.append("  no request was signed by an IAM user or a role session yet")
    for arn, entry in report["principals"].items():
        lines += ["", arn, "  used:"]
        lines += [f"    {u['action']:<28} {u['resource']}  ×{u['count']}" for u in entry["used"]] or ["    nothing"]
        if entry["denied"]:
            lines.append("  denied (the policy lacks these):")
            lines += [f"    {u['action']:<28} {u['resource']}  ×{u['count']}" for u in entry["denied"]]
        lines.append("  allowed but unused:")
        lines += [
            f"    {u['action']:<28} {u['resource']}  ({u['policy']}{'/' + u['sid'] if u['sid'] else ''})"
            for u in entry["allowed_but_unused"]
        ] or ["    nothing: every grant was used"]
        lines.append("  smallest sufficient policy:")
        lines += ["    " + line for line in json.dumps(entry["smallest_policy"], indent=2).splitlines()]
    if report["principals"]:
        lines += ["", _wrapped(SERVICE_SIDE_NOTE.strip())]
    return "\n".join(lines)


def render_summary(report: dict[str, Any]) -> str:
    """A few lines per principal: the actions it used, what it was denied, the grants it never used."""
    lines = []
    for arn, entry in report["principals"].items():
        used = sorted({u["action"] for u in entry["used"]})
        lines.append(f"  {arn.rsplit(':', 1)[-1]}: used {', '.join(used) or 'nothing'}")
        denied = sorted({u["action"] for u in entry["denied"]})
        if denied:
            lines.append(f"    denied: {', '.join(denied)}")
        never = sorted({u["action"] for u in entry["allowed_but_unused"]} - set(used))
        lines.append(f"    allowed, never used: {', '.join(never)}" if never else "    every granted action was used")
    if not lines:
        return "  no request was signed by an IAM user or a role session"
    return "\n".join(_wrapped(line) for line in [*lines, SERVICE_SIDE_NOTE])


def _wrapped(line: str, width: int = REPORT_WIDTH) -> str:
    """`line` in lines of at most `width` columns (a longer word stays whole), continued two columns further in."""
    indent = " " * (len(line) - len(line.lstrip()))
    return textwrap.fill(
        line.strip(),
        width,
        initial_indent=indent,
        subsequent_indent=indent + "  ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m localaws iam-report", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        help="the running localaws (default: AWS_ENDPOINT_URL, else http://127.0.0.1:4566)",
    )
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print the report as JSON")
    shape.add_argument("--summary", action="store_true", help="a few lines per principal, no policies")
    args = parser.parse_args(argv)
    iam = boto3.client(
        "iam",
        endpoint_url=args.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    report = build(args.endpoint, iam)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render_summary(report) if args.summary else render(report))
    return 0
