"""The transform's parse worker (a forked `multiprocessing.Process` talking over a `Pipe`) runs inside a local Lambda.

AWS Lambda allows Process and Pipe (not Pool or Queue: no /dev/shm), and so must localaws' sandbox, whose worker
processes run a function's handler: https://aws.amazon.com/blogs/compute/parallel-processing-in-python-with-aws-lambda/
The function here carries the kit's pipeline/ package and uses the AWS SDK for pandas layer, as the transform Lambda
does; it transforms messy records in one process and in two, and reports what each wrote.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import psutil
import pytest
from lambda_faults import arm
from test_lambda_runtime import PANDAS_LAYER, create_function, invoke

from kit.waiting import wait_until

pytestmark = pytest.mark.localaws

ROOT = Path(__file__).resolve().parents[2]

HANDLER = """
    import hashlib
    import io
    import json
    import multiprocessing
    import random
    from datetime import UTC, datetime

    from pipeline import config
    from pipeline.parse_ahead import parse_processes
    from pipeline.transform import transform_file


    MOMENT = datetime(2024, 1, 1, tzinfo=UTC)


    def messy(count):
        rng = random.Random(5)
        lines = []
        for number in range(count):
            record = {
                "id": number,
                "postcode": rng.choice([1234, "0150", None]),
                "address": rng.choice([{"city": "Oslo"}, "Main Street 1"]),
                "items": [{"qty": rng.choice([1, "2"])} for _ in range(rng.randint(0, 2))],
            }
            if number > count * 0.8:
                record["late"] = True
            lines.append(json.dumps(record))
        return ("\\n".join(lines) + "\\n").encode()


    def handler(event, context):
        data = messy(event["records"])
        runs = {}
        for processes in (1, 2):
            out = f"/tmp/out{processes}"
            settings = config.Settings(block_bytes=2048, parse_processes=processes)
            result = transform_file(
                io.BytesIO(data), dataset="orders", out_dir=out, identity="x", settings=settings, event_time=MOMENT
            )
            runs[processes] = {
                "worker_blocks": result.worker_blocks,
                "outputs": [
                    [o.key, o.rows, hashlib.sha256(open(o.path, "rb").read()).hexdigest()]
                    for o in result.outputs
                ],
            }
        return {
            "runs": runs,
            "children_left": len(multiprocessing.active_children()),
            "auto_processes": parse_processes(0),
        }
"""


# The worker hangs on its first block after naming itself; once it did, the handler stores its pid in S3, and the armed
# fault ends the invocation there as a timeout (localaws/lambda_runtime/faults.py), with the worker still running.
HANGING_WORKER = """
    import io
    import os
    import signal
    import tempfile
    import threading
    import time

    import boto3

    from app import messy
    from pipeline import blocks, config
    from pipeline.transform import transform_file


    def handler(event, context):
        parent, original = os.getpid(), blocks.BlockParser.parse
        named = os.path.join(tempfile.gettempdir(), "worker.pid")

        def parse(self, block):
            if os.getpid() != parent:
                with open(named + ".part", "w") as handle:
                    handle.write(str(os.getpid()))
                os.rename(named + ".part", named)
                signal.pause()
            return original(self, block)

        blocks.BlockParser.parse = parse
        settings = config.Settings(block_bytes=2048, parse_processes=2)
        work = threading.Thread(
            target=transform_file,
            args=(io.BytesIO(messy(1500)),),
            kwargs={"dataset": "orders", "out_dir": os.path.join(tempfile.gettempdir(), "out"), "settings": settings},
            daemon=True,
        )
        work.start()
        while not os.path.exists(named):  # the worker's state, bounded by the function's timeout
            time.sleep(0.05)
        with open(named) as handle:
            boto3.client("s3").put_object(Bucket=event["bucket"], Key="out/worker-pid", Body=handle.read())
        return "not reached: the fault ends the invocation at the put"
"""


def pipeline_files() -> dict[str, str]:
    return {
        f"pipeline/{path.name}": path.read_text(encoding="utf-8") for path in sorted((ROOT / "pipeline").glob("*.py"))
    }


def test_the_parse_worker_runs_inside_a_lambda(localaws_env):
    name = create_function({"app.py": HANDLER, **pipeline_files()}, Layers=[PANDAS_LAYER], Timeout=120, MemorySize=2048)
    response, body = invoke(name, {"records": 1500})
    assert "FunctionError" not in response, body
    one, two = body["runs"]["1"], body["runs"]["2"]
    assert one["worker_blocks"] == 0
    assert two["worker_blocks"] > 0, "the worker parsed nothing inside the Lambda"
    assert two["outputs"] == one["outputs"]  # the same files, rows and bytes
    assert body["children_left"] == 0
    # 2,048 MB is ~1.16 vCPU (one vCPU per 1,769 MB): the transform decides on one process by itself
    assert body["auto_processes"] == 1


def test_a_timed_out_invocation_leaves_no_worker_behind(localaws_env):
    bucket = f"worker-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    files = {"app.py": HANDLER, "hanging.py": HANGING_WORKER, **pipeline_files()}
    name = create_function(files, handler="hanging.handler", Layers=[PANDAS_LAYER], Timeout=120, MemorySize=2048)
    arm(localaws_env, name, "PutObject", KeyPrefix="out/", Nth=1, When="after", Effect="timeout")
    response, body = invoke(name, {"bucket": bucket})
    assert (response["FunctionError"], body["errorType"]) == ("Unhandled", "Sandbox.Timedout")
    worker = int(s3.get_object(Bucket=bucket, Key="out/worker-pid")["Body"].read())
    # Lambda resets the sandbox after a timeout; the worker must not live on into the next invocation
    wait_until(lambda: _state(worker), what="the timed-out function's worker", success={"gone"}, interval=0.05)


def _state(pid: int) -> str:
    try:
        zombie = psutil.Process(pid).status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.NoSuchProcess:
        return "gone"
    return "gone" if zombie else "running"
