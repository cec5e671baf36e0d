"""The transform's parse worker (a forked `multiprocessing.Process` talking over a `Pipe`) runs inside a local Lambda.

AWS Lambda allows Process and Pipe (not Pool or Queue: no /dev/shm), and so must localaws' sandbox, whose worker
processes run a function's handler: https://aws.amazon.com/blogs/compute/parallel-processing-in-python-with-aws-lambda/
The function here carries the kit's pipeline/ package and uses the AWS SDK for pandas layer, as the transform Lambda
does; it transforms messy records in one process and in two, and reports what each wrote.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_lambda_runtime import PANDAS_LAYER, create_function, invoke

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
