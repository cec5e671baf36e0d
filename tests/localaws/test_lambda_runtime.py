"""The local Lambda runtime runs a function's own zip as Lambda does: result, errors, environment, limits, logs, layers.

Each test builds a tiny zip, creates the function over HTTP with boto3, and invokes it on a real localaws process.
"""

from __future__ import annotations

import base64
import io
import json
import textwrap
import uuid
import zipfile

import boto3
import pytest
from roles import allow_everything

pytestmark = pytest.mark.localaws

PANDAS_LAYER = "arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python312:29"
TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, textwrap.dedent(text))
    return buffer.getvalue()


def create_function(code: str | dict[str, str], handler: str = "app.handler", **settings) -> str:
    """Create a function from handler source (app.py) or a dict of files; return its (unique) name."""
    name = f"fn-{uuid.uuid4().hex[:12]}"
    iam = boto3.client("iam")
    role = iam.create_role(RoleName=f"role-{name}", AssumeRolePolicyDocument=TRUST_POLICY)["Role"]["Arn"]
    allow_everything(iam, f"role-{name}")
    files = code if isinstance(code, dict) else {"app.py": code}
    client = boto3.client("lambda")
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler=handler,
        Code={"ZipFile": zipped(files)},
        **settings,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name)
    return name


def invoke(name: str, event: dict | None = None, **extra) -> tuple[dict, object]:
    response = boto3.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event or {}), **extra)
    return response, json.loads(response["Payload"].read())


def log_messages(name: str) -> list[str]:
    events = boto3.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    return [event["message"] for event in events]


ECHO = """
    import os

    def handler(event, context):
        return {"event": event, "request_id": context.aws_request_id}
"""


def test_invoke_returns_the_handler_result(localaws_env):
    # https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html
    name = create_function(ECHO)
    response, body = invoke(name, {"answer": 42})
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert body["event"] == {"answer": 42}
    assert body["request_id"] == response["ResponseMetadata"]["RequestId"]


def test_handler_exception_is_an_unhandled_function_error(localaws_env):
    # https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html
    name = create_function(
        """
        def handler(event, context):
            raise ValueError("no such order")
        """
    )
    response, body = invoke(name)
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert set(body) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "no such order"
    assert body["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert any("in handler" in frame for frame in body["stackTrace"])


def test_missing_module_is_an_import_module_error(localaws_env):
    name = create_function(ECHO, handler="nowhere.handler")
    response, body = invoke(name)
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'nowhere': No module named 'nowhere'"


def test_missing_function_is_resource_not_found(localaws_env):
    client = boto3.client("lambda")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="fn-that-does-not-exist", Payload=b"{}")


def test_dry_run_answers_204(localaws_env):
    name = create_function(ECHO)
    response = boto3.client("lambda").invoke(FunctionName=name, InvocationType="DryRun")
    assert response["StatusCode"] == 204


def test_function_sees_its_variables_the_reserved_ones_and_the_context(localaws_env):
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
    # https://docs.aws.amazon.com/lambda/latest/dg/python-context.html
    name = create_function(
        """
        import os

        def handler(event, context):
            return {
                "env": dict(os.environ),
                "context": {
                    "function_name": context.function_name,
                    "function_version": context.function_version,
                    "invoked_function_arn": context.invoked_function_arn,
                    "memory_limit_in_mb": context.memory_limit_in_mb,
                    "log_group_name": context.log_group_name,
                    "log_stream_name": context.log_stream_name,
                    "remaining": context.get_remaining_time_in_millis(),
                },
            }
        """,
        Environment={"Variables": {"ETL_BUCKET": "my-bucket"}},
        MemorySize=256,
        Timeout=30,
    )
    _, body = invoke(name)
    env, context = body["env"], body["context"]
    assert env["ETL_BUCKET"] == "my-bucket"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == context["log_stream_name"]
    assert "/[$LATEST]" in env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["_HANDLER"] == "app.handler"
    assert env["TZ"] == ":UTC"
    assert env["AWS_ENDPOINT_URL"] == localaws_env
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SESSION_TOKEN"]
    assert env["LAMBDA_TASK_ROOT"]
    assert context["function_name"] == name
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    assert context["memory_limit_in_mb"] == "256"
    assert 0 < context["remaining"] <= 30_000


def test_the_zip_code_runs_not_the_repository_code(localaws_env):
    # The project is installed editable; a zip's `pipeline` package must win, and nothing of the repo may leak in.
    name = create_function(
        {
            "pipeline/__init__.py": "",
            "pipeline/lambda_transform.py": """
                import importlib.util
                import os
                import sys

                def handler(event, context):
                    return {
                        "file": __file__,
                        "task_root": os.environ["LAMBDA_TASK_ROOT"],
                        "kit": importlib.util.find_spec("kit") is not None,
                        "localaws": "localaws" in sys.modules or importlib.util.find_spec("localaws") is not None,
                        "config": importlib.util.find_spec("pipeline.config") is not None,
                    }
            """,
        },
        handler="pipeline.lambda_transform.handler",
    )
    _, body = invoke(name)
    assert body["file"].startswith(body["task_root"])
    assert body["kit"] is False
    assert body["localaws"] is False
    assert body["config"] is False  # the repo's pipeline/config.py is not in this zip


def test_timeout_kills_the_invocation(localaws_env):
    # https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html#troubleshooting-timeouts
    name = create_function(
        """
        import threading

        def handler(event, context):
            print("about to sleep", flush=True)
            threading.Event().wait()  # never returns: only the timeout ends it, however fast the machine
        """,
        Timeout=3,
    )
    response, body = invoke(name)
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Error: Task timed out after 3.00 seconds")
    messages = log_messages(name)
    assert "about to sleep" in messages
    assert any(message.endswith("Task timed out after 3.00 seconds") for message in messages)


def test_exceeding_memory_size_fails_as_out_of_memory(localaws_env):
    # An out-of-memory function is killed: Runtime.ExitError "Runtime exited with error: signal: killed",
    # https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html (Runtime.ExitError)
    name = create_function(
        """
        import threading

        def handler(event, context):
            ballast = b"x" * (300 * 1024 * 1024)
            threading.Event().wait()  # holds the memory until the runtime sees it, however loaded the machine
            return len(ballast)
        """,
        MemorySize=128,
        Timeout=120,
    )
    response, body = invoke(name)
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    report = next(message for message in log_messages(name) if message.startswith("REPORT"))
    assert "Max Memory Used: 128 MB" in report


def test_memory_of_a_child_process_counts_towards_memory_size(localaws_env):
    # Memory size limits the whole execution environment, the processes a function starts included:
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html. The runtime lists a worker's children
    # less often than it reads the worker's own memory; a child that holds memory is still seen and killed.
    name = create_function(
        """
        import subprocess
        import sys

        HOLD = "import time; ballast = b'x' * (300 * 1024 * 1024); time.sleep(600)"

        def handler(event, context):
            return subprocess.Popen([sys.executable, "-c", HOLD]).wait()
        """,
        MemorySize=128,
        Timeout=120,
    )
    response, body = invoke(name)
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")


def test_logs_hold_start_output_end_and_report(localaws_env):
    # https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html
    # https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html
    name = create_function(
        """
        import logging
        import sys

        logging.getLogger().setLevel(logging.INFO)

        def handler(event, context):
            print("hello from print")
            print("to stderr", file=sys.stderr)
            logging.getLogger("etl").info("rows=%d", 3)
            return "done"
        """
    )
    response, _ = invoke(name, LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    messages = log_messages(name)
    assert f"START RequestId: {request_id} Version: $LATEST" in messages
    assert "hello from print" in messages
    assert "to stderr" in messages
    assert any(m.startswith("[INFO]\t") and m.endswith(f"\t{request_id}\trows=3") for m in messages)
    assert f"END RequestId: {request_id}" in messages
    report = next(m for m in messages if m.startswith(f"REPORT RequestId: {request_id}"))
    for field in ("Duration:", "Billed Duration:", "Memory Size: 128 MB", "Max Memory Used:", "Init Duration:"):
        assert field in report
    streams = boto3.client("logs").describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert len(streams) == 1
    assert "/[$LATEST]" in streams[0]["logStreamName"]
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "hello from print" in tail and f"REPORT RequestId: {request_id}" in tail


def test_warm_environment_is_reused_and_only_the_cold_start_reports_init(localaws_env):
    # https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html (execution environment reuse)
    name = create_function(
        """
        invocations = 0

        def handler(event, context):
            global invocations
            invocations += 1
            return invocations
        """
    )
    first, first_count = invoke(name, LogType="Tail")
    second, second_count = invoke(name, LogType="Tail")
    assert (first_count, second_count) == (1, 2)
    assert "Init Duration" in base64.b64decode(first["LogResult"]).decode()
    assert "Init Duration" not in base64.b64decode(second["LogResult"]).decode()


def test_managed_pandas_layer_is_accepted_and_provides_pandas(localaws_env):
    # https://aws-sdk-pandas.readthedocs.io/en/stable/layers.html (AWS-managed layer, published by 336392948345)
    code = """
        import importlib.util

        def handler(event, context):
            found = {}
            for module in ("pandas", "pyarrow", "numpy", "boto3"):
                try:
                    __import__(module)
                    found[module] = True
                except ImportError:
                    found[module] = False
            return found
    """
    with_layer = create_function(code, Layers=[PANDAS_LAYER], Timeout=60, MemorySize=1024)
    layers = boto3.client("lambda").get_function(FunctionName=with_layer)["Configuration"]["Layers"]
    assert [layer["Arn"] for layer in layers] == [PANDAS_LAYER]
    _, found = invoke(with_layer)
    assert found == {"pandas": True, "pyarrow": True, "numpy": True, "boto3": True}
    without_layer = create_function(code, Timeout=60, MemorySize=1024)
    _, found = invoke(without_layer)
    assert found == {"pandas": False, "pyarrow": False, "numpy": False, "boto3": True}


def test_updated_code_runs_in_a_new_environment(localaws_env):
    # An update retires the old execution environments: the next invocation runs the new code, cold.
    name = create_function("def handler(event, context):\n    return 'v1'\n")
    assert invoke(name)[1] == "v1"
    client = boto3.client("lambda")
    client.update_function_code(
        FunctionName=name, ZipFile=zipped({"app.py": "def handler(event, context):\n    return 'v2'\n"})
    )
    client.get_waiter("function_updated_v2").wait(FunctionName=name)
    response, body = invoke(name, LogType="Tail")
    assert body == "v2"
    assert "Init Duration" in base64.b64decode(response["LogResult"]).decode()


def test_alias_runs_the_version_it_points_at(localaws_env):
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-aliases.html
    name = create_function(
        """
        import os

        def handler(event, context):
            return [os.environ["AWS_LAMBDA_FUNCTION_VERSION"], context.invoked_function_arn]
        """
    )
    client = boto3.client("lambda")
    version = client.publish_version(FunctionName=name)["Version"]
    client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    response, body = invoke(name, Qualifier="live")
    assert response["ExecutedVersion"] == version
    assert body == [version, f"arn:aws:lambda:us-east-1:123456789012:function:{name}:live"]
