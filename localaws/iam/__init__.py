"""IAM enforcement: every request signed by an IAM user or an STS session is authorized as AWS authorizes it.

LOCALAWS_IAM selects the mode: `enforce` (default) denies with the service's AccessDenied shape; `soft` logs each
would-be denial with the missing action and allows it; `off` checks nothing. The stand-in `test` keys, unknown keys
and unsigned requests act as the account root, so scripts that never create IAM principals are unaffected.

What comes from moto and what from here (README "Security model"):
- moto keeps the state: users, roles, access keys, inline and managed policies, STS sessions (AssumeRole), bucket
  policies and Lambda resource policies; `moto.iam.access_control` collects a principal's policies.
- moto's own enforcement (INITIAL_NO_AUTH_ACTION_COUNT) stays off: it authorizes most services on resource "*", treats
  an Allow whose Condition fails as a Deny, ignores NotResource, `?` wildcards and resource-based policies. localaws
  evaluates instead (evaluation.py), with the resource ARNs and action names of the Service Authorization Reference
  (requests.py), and AWS's denial message.
Every decision about a non-root principal is recorded for the least-privilege report (`python -m localaws iam-report`).
"""

from __future__ import annotations

import logging
import os
import time

from botocore.session import get_session

from localaws.iam import principals
from localaws.iam.evaluation import Decision, Principal, decide
from localaws.iam.requests import Ask, Check, describe
from localaws.iam.usage import Usage
from localaws.server import ACCOUNT_ID, LocalAws, Request, Response, json_error, json_response, xml_error

log = logging.getLogger("localaws.iam")
MODES = ("enforce", "soft", "off")
# Allowed whatever the policies say: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
ALWAYS_ALLOWED = frozenset({"sts:GetCallerIdentity"})


def mode_from_environment() -> str:
    mode = os.environ.get("LOCALAWS_IAM", "enforce").strip().lower() or "enforce"
    if mode not in MODES:
        raise ValueError(f"LOCALAWS_IAM must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


class Authorizer:
    def __init__(self, app: LocalAws, mode: str) -> None:
        self.app = app
        self.mode = mode
        self.usage = Usage()

    def __call__(self, request: Request) -> Response | None:
        if self.mode == "off":
            return None
        access_key = principals.access_key_of(request.headers, request.query)
        if access_key is None or access_key == "test":
            return None
        token = request.headers.get("x-amz-security-token") or (request.query.get("X-Amz-Security-Token") or [None])[0]
        with self.app.moto_lock:
            principal = principals.resolve(ACCOUNT_ID, access_key, token)
            if isinstance(principal, str):
                return _invalid_token(request)
            if principal.is_root:
                return None
            if request.route is None:
                return self._refuse(request, principal, Check("unknown", request.path), _UNNAMED)
            ask = describe(request, ACCOUNT_ID)
            region = request.route.region
            decisions = [(check, self._decide(principal, check, ask, region)) for check in ask.checks]
        for check, decision in decisions:
            self.usage.record(principal, check.action, check.resource, decision.allowed)
        denied = next(((c, d) for c, d in decisions if not d.allowed), None)
        if denied is None:
            return None
        return self._refuse(request, principal, *denied)

    def _decide(self, principal: Principal, check: Check, ask: Ask, region: str) -> Decision:
        if check.action in ALWAYS_ALLOWED:
            return Decision(True, "")
        context = {
            **ask.context,
            "aws:principalarn": [principal.role_arn or principal.arn],
            "aws:principalaccount": [principal.account],
            "aws:principaltype": ["AssumedRole" if principal.role_arn else "User"],
            "aws:currenttime": [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())],
        }
        resource_policies = []
        if ask.bucket:
            resource_policies.append(principals.bucket_policy(ACCOUNT_ID, ask.bucket))
        if ask.function:
            resource_policies.append(principals.function_policy(ACCOUNT_ID, region, ask.function))
        return decide(principal, check.action, check.resource, context, [p for p in resource_policies if p])

    def _refuse(self, request: Request, principal: Principal, check: Check, decision: Decision) -> Response | None:
        quoted = request.route is not None and request.route.service == "s3"
        message = denial_message(principal, check, decision, quoted)
        if self.mode == "soft":
            log.warning("iam (soft): would deny: %s", message)
            return None
        log.warning("iam: denied: %s", message)
        return access_denied(request, message)


_UNNAMED = Decision(False, "because localaws cannot name the operation, so no policy can allow it")


def denial_message(principal: Principal, check: Check, decision: Decision, quoted: bool = False) -> str:
    """AWS's words: 'User: <arn> is not authorized to perform: <action> on resource: <arn> because ...'."""
    resource = f'"{check.resource}"' if quoted else check.resource
    return (
        f"User: {principal.arn} is not authorized to perform: {check.action} on resource: {resource} {decision.reason}"
    )


def access_denied(request: Request, message: str) -> Response:
    """The service's own AccessDenied shape, HTTP 403."""
    service = request.route.service if request.route else "s3"
    model = get_session().get_service_model(service)
    protocol = model.protocol
    if protocol == "rest-xml":
        return xml_error("AccessDenied", message, 403)
    if protocol in ("query", "ec2"):
        body = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
            f"<Message>{_xml(message)}</Message></Error><RequestId>{time.time_ns():x}</RequestId></ErrorResponse>"
        )
        return Response(403, [("Content-Type", "text/xml")], body.encode())
    if model.metadata.get("awsQueryCompatible") is not None:  # SQS keeps its query-protocol error codes
        response = json_error("AccessDenied", message, 403)
        response.headers.append(("x-amzn-query-error", "AccessDenied;Sender"))
        return response
    return json_error("AccessDeniedException", message, 403)


def _invalid_token(request: Request) -> Response:
    message = "The security token included in the request is invalid."
    response = access_denied(request, message)
    body = response.body.replace(b"AccessDeniedException", b"UnrecognizedClientException").replace(
        b"AccessDenied", b"InvalidClientTokenId"
    )
    headers = [(k, v.replace("AccessDeniedException", "UnrecognizedClientException")) for k, v in response.headers]
    return Response(403, headers, body)


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def install(app: LocalAws) -> None:
    authorizer = Authorizer(app, mode_from_environment())
    app.gate(authorizer)
    app.internal("iam-usage", lambda _query: json_response({"mode": authorizer.mode, **authorizer.usage.as_json()}))
