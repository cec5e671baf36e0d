"""Event source mappings for SQS: moto stores them; localaws checks them as Lambda does and runs them (sqs_poller.py).

https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
What CreateEventSourceMapping / UpdateEventSourceMapping refuse, before moto stores anything:
- BatchSize above 10,000 (10 for a FIFO queue), or above 10 without MaximumBatchingWindowInSeconds of at least 1:
  InvalidParameterValueException "Maximum batch window in seconds must be greater than 0 if maximum batch size is
  greater than 10"; a window above 300 s;
- a second mapping of the same queue to the same function: ResourceConflictException;
- a function whose execution role may not call sqs:ReceiveMessage, sqs:DeleteMessage and sqs:GetQueueAttributes on
  the queue: InvalidParameterValueException "The function execution role does not have permissions to call
  ReceiveMessage on SQS" (the first action missing is named); skipped when LOCALAWS_IAM=off.
moto's own SQS "poller" invokes the function inside SendMessage (through Docker): localaws never lets it see a mapping
(it empties the queue's lambda_event_source_mappings), so each message is processed once, by sqs_poller.
GET /_localaws/event-source-mappings lists each poller's batches in flight, invocations, throttles and pending state.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

from moto.awslambda.exceptions import UnknownFunctionException
from moto.sqs import models as sqs_models
from moto.sqs.exceptions import QueueDoesNotExist

from localaws import sqs_model
from localaws.iam import mode_from_environment, principals
from localaws.iam.evaluation import decide
from localaws.lambda_runtime.functions import lambda_backend
from localaws.lambda_runtime.sqs_poller import Mappings
from localaws.server import ACCOUNT_ID, LocalAws, Request, Response, json_error, json_response

log = logging.getLogger("localaws.esm")

MAX_BATCH_SIZE = 10000
MAX_FIFO_BATCH_SIZE = 10
MAX_WINDOW_S = 300
# Lambda's execution role needs these on the queue: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
REQUIRED_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


def install(app: LocalAws, mappings: Mappings) -> None:
    # Every SendMessage, SendMessageBatch, S3 notification, Lambda destination and dead-letter move goes through
    # moto's Queue.add_message: a mapping's poller learns of a message at once.
    sqs_model.install(mappings.on_message_added)
    app.validate("lambda", "CreateEventSourceMapping", lambda request: validate_create(app, request))
    app.validate("lambda", "UpdateEventSourceMapping", lambda request: validate_update(app, request))
    for operation in ("CreateEventSourceMapping", "UpdateEventSourceMapping", "DeleteEventSourceMapping"):
        app.after("lambda", operation, lambda _request, _response: _resync(app, mappings))
    # A message made visible sooner (ChangeMessageVisibility) is worth a poll at once.
    for operation in ("ChangeMessageVisibility", "ChangeMessageVisibilityBatch"):
        app.after("sqs", operation, lambda _request, _response: mappings.wake_all())
    app.control("event-source-mappings", lambda method, _q, _b: json_response({"Mappings": mappings.describe()}))
    app.on_shutdown(mappings.close)
    app.on_kill(mappings.close)


def _resync(app: LocalAws, mappings: Mappings) -> None:
    with app.moto_lock:
        _detach_moto_pollers()
    mappings.sync()


def _detach_moto_pollers() -> None:
    """Empty every queue's lambda_event_source_mappings, which moto's SendMessage would invoke itself."""
    for regions in list(sqs_models.sqs_backends.values()):
        for backend in list(regions.values()):
            for queue in backend.queues.values():
                queue.lambda_event_source_mappings.clear()


# -- validation ------------------------------------------------------------------------------------------------
def _invalid(message: str) -> Response:
    return json_error("InvalidParameterValueException", message)


def _check_batching(queue_arn: str, batch_size: Any, window: Any) -> Response | None:
    fifo = queue_arn.endswith(".fifo")
    if batch_size is not None and not isinstance(batch_size, int):
        return None  # botocore validates types; moto answers a raw caller
    size = 10 if batch_size is None else batch_size
    most = MAX_FIFO_BATCH_SIZE if fifo else MAX_BATCH_SIZE
    if size > most:
        return _invalid(f"BatchSize {size} exceeds the max of {most}")
    if window is not None and isinstance(window, int) and window > MAX_WINDOW_S:
        return _invalid(
            f"1 validation error detected: Value '{window}' at 'maximumBatchingWindowInSeconds' failed to satisfy "
            f"constraint: Member must have value less than or equal to {MAX_WINDOW_S}"
        )
    if size > 10 and not (isinstance(window, int) and window > 0):
        return _invalid(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        )
    return None


def validate_create(app: LocalAws, request: Request) -> Response | None:
    body = request.json()
    queue_arn, function = body.get("EventSourceArn"), body.get("FunctionName")
    if not isinstance(queue_arn, str) or queue_arn.split(":")[2:3] != ["sqs"] or not isinstance(function, str):
        return None  # not an SQS mapping: moto's own checks
    rejection = _check_batching(queue_arn, body.get("BatchSize"), body.get("MaximumBatchingWindowInSeconds"))
    if rejection is not None:
        return rejection
    region = request.route.region
    with app.moto_lock:
        backend = lambda_backend(ACCOUNT_ID, region)
        try:
            fn = backend.get_function(function)
        except UnknownFunctionException:
            return None  # moto answers ResourceNotFoundException
        for esm in backend._event_source_mappings.values():
            if esm.event_source_arn == queue_arn and esm.function_arn == fn.function_arn:
                return json_error(
                    "ResourceConflictException",
                    f'An event source mapping with SQS arn (" {queue_arn} ") and function (" {fn.function_name} ") '
                    f"already exists. Please update or delete the existing mapping with UUID {esm.uuid}",
                    409,
                )
        if not _queue_exists(queue_arn):
            return None  # moto answers ResourceNotFoundException
        return _role_problem(fn.role or "", queue_arn)


def validate_update(app: LocalAws, request: Request) -> Response | None:
    body = request.json()
    uuid = unquote(request.route.path_params.get("UUID", ""))
    with app.moto_lock:
        esm = lambda_backend(ACCOUNT_ID, request.route.region).get_event_source_mapping(uuid)
        if esm is None or esm.event_source_arn.split(":")[2] != "sqs":
            return None
        batch_size = body.get("BatchSize", esm.batch_size)
        window = body.get("MaximumBatchingWindowInSeconds", esm.max_batch_window)
        return _check_batching(esm.event_source_arn, batch_size, window)


def _queue_exists(queue_arn: str) -> bool:
    _, _, _, region, account, name = queue_arn.split(":", 5)
    try:
        sqs_models.sqs_backends[account][region].get_queue(name)
    except QueueDoesNotExist:
        return False
    return True


def _role_problem(role_arn: str, queue_arn: str) -> Response | None:
    """Lambda's check of the execution role at CreateEventSourceMapping (call under moto's lock)."""
    if mode_from_environment() == "off":
        return None
    principal = principals.role_principal(ACCOUNT_ID, role_arn)
    for action in REQUIRED_ACTIONS:
        allowed = principal is not None and decide(principal, action, queue_arn, {}).allowed
        if not allowed:
            verb = action.split(":", 1)[1]
            log.info("CreateEventSourceMapping refused: role %s may not %s on %s", role_arn, action, queue_arn)
            return _invalid(f"The function execution role does not have permissions to call {verb} on SQS")
    return None
