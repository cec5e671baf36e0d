"""The Lambda runtime: runs each function's own stored zip in a local execution environment, as Lambda does.

moto keeps the control plane (CreateFunction, configuration, event-invoke config, permissions); this part answers
Invoke, runs the code in warm worker processes (environments.py, bootstrap.py), enforces timeout and memory,
writes CloudWatch Logs (logs.py), and delivers asynchronous events with retries and destinations (async_queue.py).
/_localaws/lambda-faults arms fault injection (faults.py): a worker killed at a chosen call, as by a timeout or OOM.
Concurrency (concurrency.py): reserved concurrency, the account's limit and throttling; /_localaws/lambda-concurrency.
SQS event source mappings (event_source_mappings.py, sqs_poller.py); /_localaws/event-source-mappings.

Knobs (environment variables of the localaws process):
- LOCALAWS_LAMBDA_CONCURRENCY   async invocations of one function run at once (default: the CPU count, at least 2;
                                more processes than cores only add cold starts that compete for the same CPUs; on
                                2 cores a 1,000-file burst took 22 s with 2, 3 or 4, and each one more added 160 MB RSS)
- LOCALAWS_LAMBDA_RETRY_DELAYS  seconds before the 1st, 2nd retry of a failed async event (default "0.5,1")
- LOCALAWS_LAMBDA_THROTTLE_BACKOFF  first and longest backoff of a throttled async event, doubling (default "0.5,5")
- LOCALAWS_ESM_CONCURRENCY      batches an SQS event source mapping without ScalingConfig.MaximumConcurrency runs at
                                once (default 5, the batches Lambda starts polling with). sqs_poller.py
- LOCALAWS_ACCOUNT_CONCURRENCY  the account's concurrent executions per Region (default 1000, AWS's default; a new
                                account may have 10). Reserved concurrency and throttling: concurrency.py
- LOCALAWS_LAMBDA_IDLE_SECONDS  a warm environment idle this long is shut down (default 300)
- LOCALAWS_LAMBDA_INIT_TIMEOUT  seconds allowed for INIT, at least the function's timeout (default 10)
- LOCALAWS_LAMBDA_PREWARM       "0" turns off proactive initialization of one environment per function when it is
                                created or updated (default on, as Lambda may do for on-demand functions)
"""

from __future__ import annotations

import logging
import os
from urllib.parse import unquote

from localaws.lambda_runtime import event_source_mappings
from localaws.lambda_runtime.async_queue import AsyncInvoker
from localaws.lambda_runtime.concurrency import DEFAULT_ACCOUNT_LIMIT, Concurrency, show_zero_reservation
from localaws.lambda_runtime.environments import EnvironmentPool
from localaws.lambda_runtime.execution import Executor
from localaws.lambda_runtime.faults import FaultInjector
from localaws.lambda_runtime.functions import (
    CodeCache,
    allow_managed_layers,
    replace_event_invoke_config_on_put,
    update_ephemeral_storage_on_update,
)
from localaws.lambda_runtime.invoke import _account_of, make_invoke, make_prewarm
from localaws.lambda_runtime.sqs_poller import Mappings
from localaws.server import LocalAws, Request, Response, json_error, json_response

log = logging.getLogger("localaws.lambda")


def install(app: LocalAws) -> None:
    allow_managed_layers()
    replace_event_invoke_config_on_put()
    update_ephemeral_storage_on_update()
    show_zero_reservation()
    cache = CodeCache()
    pool = EnvironmentPool(idle_seconds=float(os.environ.get("LOCALAWS_LAMBDA_IDLE_SECONDS", "300")))
    concurrency = Concurrency(app, int(os.environ.get("LOCALAWS_ACCOUNT_CONCURRENCY", DEFAULT_ACCOUNT_LIMIT)))
    executor = Executor(
        app,
        cache,
        pool,
        init_timeout_s=float(os.environ.get("LOCALAWS_LAMBDA_INIT_TIMEOUT", "10")),
        concurrency=concurrency,
    )
    delays = _seconds(os.environ.get("LOCALAWS_LAMBDA_RETRY_DELAYS", "0.5,1"))
    first, longest = _seconds(os.environ.get("LOCALAWS_LAMBDA_THROTTLE_BACKOFF", "0.5,5"))
    invoker = AsyncInvoker(
        app,
        executor,
        int(os.environ.get("LOCALAWS_LAMBDA_CONCURRENCY", max(2, os.cpu_count() or 2))),
        delays,
        throttle_backoff=(first, longest),
    )
    app.override("lambda", "Invoke", make_invoke(executor, invoker))
    app.validate("lambda", "PutFunctionConcurrency", concurrency.validate_put)
    app.override("lambda", "GetAccountSettings", concurrency.account_settings)

    def concurrency_control(method: str, _query: dict[str, list[str]], _body: bytes) -> Response:
        if method != "GET":
            return json_error("MethodNotAllowed", f"{method} is not served here: GET", 405)
        return json_response(concurrency.describe())

    app.control("lambda-concurrency", concurrency_control)
    mappings = Mappings(app, executor, int(os.environ.get("LOCALAWS_ESM_CONCURRENCY", "5")), (first, longest))
    event_source_mappings.install(app, mappings)
    FaultInjector(app, pool).install()
    if os.environ.get("LOCALAWS_LAMBDA_PREWARM", "1") != "0":
        for operation in ("CreateFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration"):
            app.after("lambda", operation, make_prewarm(executor))

    def retire_deleted(request: Request, response: Response) -> None:
        # DeleteFunction stops the function's execution environments, as Lambda does; with a Qualifier only that
        # version's. https://docs.aws.amazon.com/lambda/latest/api/API_DeleteFunction.html
        name = unquote(request.route.path_params.get("FunctionName", ""))
        tail = name.split(":function:")[-1]
        function, _, qualifier = tail.partition(":")
        arn = f"arn:aws:lambda:{request.route.region}:{_account_of(name)}:function:{function}"
        version = qualifier or (request.query.get("Qualifier") or [None])[0]
        stopped = pool.retire(arn, version)
        if stopped:
            log.info("lambda %s deleted: stopped %d warm environment(s)", function, stopped)

    app.after("lambda", "DeleteFunction", retire_deleted)

    def shut_down() -> None:
        invoker.close()
        pool.close()
        cache.remove()

    app.on_shutdown(shut_down)
    app.on_kill(shut_down)


def _seconds(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]
