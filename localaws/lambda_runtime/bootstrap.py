"""The worker side of a local Lambda execution environment: a standalone script, run by path, never imported.

It plays the role of Lambda's Python runtime (/var/runtime/bootstrap.py): one process per execution environment,
which imports the handler once (the INIT phase) and then serves invocations one at a time until stdin closes.
It imports only the standard library, so nothing of localaws (or the project it lives in) leaks into the function.

Started as `python -I -S bootstrap.py <control fd> <settings json>`:
- `-I -S`: no PYTHONPATH, no user site, no site.py, so no editable-install path hooks; the parent decides what is
  importable: the function's code (LAMBDA_TASK_ROOT) first, then its layers, then the stdlib, then (through a
  finder) the local site-packages standing in for the runtime's own packages, minus what only a layer brings.
- requests arrive on stdin as JSON lines; replies leave on the control fd as JSON lines;
- stdout and stderr are the function's log: the parent turns each line into a CloudWatch Logs event. A logging record
  keeps its newlines as "\\r" so that it stays one event, as the Lambda runtime's log handler does.

Error shapes follow https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html and the Python runtime
interface client (Runtime.ImportModuleError, Runtime.HandlerNotFound, Runtime.MarshalError, ...).
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import json
import logging
import os
import sys
import time
import traceback

_LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s"


class LambdaContext:
    """The context object: https://docs.aws.amazon.com/lambda/latest/dg/python-context.html"""

    def __init__(self, request: dict, settings: dict) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = request["invoked_function_arn"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.aws_request_id = request["request_id"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = request.get("client_context")
        self._deadline_ms = request["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext([aws_request_id={self.aws_request_id},function_name={self.function_name}])"


class _RuntimePackages(importlib.abc.MetaPathFinder):
    """The runtime's site-packages (boto3 & co), minus the packages only a layer would bring (pandas & co).

    sys.path holds the function's code, its layers and the stdlib; this finder, last on sys.meta_path, serves the
    rest from the local site-packages, and answers None for a withheld package, exactly as if it were absent.
    """

    def __init__(self, paths: list, withheld: set) -> None:
        self.paths = paths
        self.withheld = withheld

    def find_spec(self, name, path=None, target=None):
        if path is not None or name in self.withheld:
            return None  # submodules are found through their package's __path__
        return importlib.machinery.PathFinder.find_spec(name, self.paths)

    def find_distributions(self, context=None):
        context = context or importlib.metadata.DistributionFinder.Context()
        if context.name is not None and context.name.lower() in self.withheld:
            return iter(())
        local = importlib.metadata.DistributionFinder.Context(name=context.name, path=self.paths)
        return importlib.metadata.MetadataPathFinder.find_distributions(local)


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


class _OneEventHandler(logging.StreamHandler):
    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", "\r")


def _configure_logging() -> _RequestIdFilter:
    request_filter = _RequestIdFilter()
    handler = _OneEventHandler(sys.stdout)
    formatter = logging.Formatter(_LOG_FORMAT, datefmt="%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(request_filter)
    logging.getLogger().addHandler(handler)
    return request_filter


# The hooks loaded from here (layer_pyarrow.py, no_dev_shm.py) stand in for C code that raises on AWS: their frames
# would not be in Lambda's stack trace, so they are left out of it.
_HOOKS_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _error(error_type: str, message: str, exc: BaseException | None = None, skip: int = 0) -> dict:
    frames = traceback.extract_tb(exc.__traceback__)[skip:] if exc is not None else []
    stack = traceback.format_list([frame for frame in frames if not frame.filename.startswith(_HOOKS_DIR)])
    return {"errorMessage": message, "errorType": error_type, "stackTrace": stack}


def _log_error(error: dict) -> None:
    text = f"[ERROR] {error['errorType']}: {error['errorMessage']}"
    if error["stackTrace"]:
        text += "\nTraceback (most recent call last):\n" + "".join(error["stackTrace"]).rstrip("\n")
    print(text.replace("\n", "\r"), flush=True)


def _load_handler(handler_name: str):
    try:
        module_name, function_name = handler_name.rsplit(".", 1)
    except ValueError as exc:
        return None, _error("Runtime.MalformedHandlerName", f"Bad handler '{handler_name}': {exc}")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return None, _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
    except SyntaxError as exc:
        return None, _error("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", exc)
    except Exception as exc:  # any error in the user's init code is reported to the caller, as Lambda does
        return None, _error(type(exc).__name__, str(exc), exc, skip=2)
    handler = getattr(module, function_name, None)
    if handler is None:
        return None, _error("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")
    return handler, None


def _invoke(handler, request: dict, settings: dict) -> dict:
    try:
        event = json.loads(request["payload"])
        result = handler(event, LambdaContext(request, settings))
    except Exception as exc:  # a handler's error is the invocation's result, not the runtime's
        return {"ok": False, "error": _error(type(exc).__name__, str(exc), exc, skip=1)}
    try:
        return {"ok": True, "payload": json.dumps(result)}
    except (TypeError, ValueError) as exc:
        return {"ok": False, "error": _error("Runtime.MarshalError", f"Unable to marshal response: {exc}")}


def _use_pandas_layer_pyarrow(layer: dict) -> None:
    """Gives the function the AWS SDK for pandas layer's pyarrow: codecs it was not built with are refused."""
    spec = importlib.util.spec_from_file_location("_localaws_layer_pyarrow", layer["hook"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.install(layer["codecs_built"])


def _join_tmp_storage(storage: dict) -> None:
    """The environment's /tmp (TMPDIR) is a tmpfs of the function's EphemeralStorage size, held by another process
    so that it outlives this worker (tmp_storage.py): join its namespaces."""
    spec = importlib.util.spec_from_file_location("_localaws_tmp_storage", storage["hook"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.join(storage["holder"])


def _without_dev_shm(hook: str) -> None:
    """Lambda has no /dev/shm: SemLock-based multiprocessing primitives fail as they do there (no_dev_shm.py)."""
    spec = importlib.util.spec_from_file_location("_localaws_no_dev_shm", hook)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.install()


def main() -> None:
    control = os.fdopen(int(sys.argv[1]), "w", buffering=1)
    settings = json.loads(sys.argv[2])
    sys.argv = [sys.argv[0]]
    if settings.get("tmp_storage"):  # first, while the worker is single-threaded (setns needs that)
        _join_tmp_storage(settings["tmp_storage"])
    sys.path[:0] = [settings["task_root"], *settings["layer_paths"]]
    sys.meta_path.append(_RuntimePackages(settings["runtime_paths"], set(settings["blocked_packages"])))
    if settings.get("no_dev_shm"):
        _without_dev_shm(settings["no_dev_shm"])
    if settings.get("pandas_layer"):
        _use_pandas_layer_pyarrow(settings["pandas_layer"])
    request_filter = _configure_logging()

    handler, init_error = _load_handler(settings["handler"])
    if init_error:
        _log_error(init_error)
    sys.stdout.flush()
    sys.stderr.flush()
    control.write(json.dumps({"type": "ready", "error": init_error}) + "\n")
    if init_error:
        return
    for line in sys.stdin:
        request = json.loads(line)
        request_filter.request_id = request["request_id"]
        reply = _invoke(handler, request, settings)
        if not reply["ok"]:
            reply["error"]["requestId"] = request["request_id"]
            _log_error(reply["error"])
        sys.stdout.flush()
        sys.stderr.flush()
        control.write(json.dumps({"type": "result", **reply}) + "\n")


if __name__ == "__main__":
    main()
