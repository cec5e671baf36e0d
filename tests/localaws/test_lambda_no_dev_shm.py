"""A Lambda execution environment has no /dev/shm, so multiprocessing's SemLock-based primitives (Pool, Queue, Lock,
Semaphore, Event, ...) fail in a handler with `OSError: [Errno 38] Function not implemented`, while Process and Pipe
work: https://aws.amazon.com/blogs/compute/parallel-processing-in-python-with-aws-lambda/ ; the error as reported from
Lambda in nalepae/pandarallel#128 and piskvorky/smart_open#672 (raised by `_multiprocessing.SemLock(...)`).
"""

from __future__ import annotations

import multiprocessing

import pytest
from test_lambda_runtime import create_function, invoke

pytestmark = pytest.mark.localaws

POOL = """
    import multiprocessing

    def handler(event, context):
        with multiprocessing.Pool(2) as pool:
            return pool.map(abs, [-1, -2])
"""

PRIMITIVES = """
    import concurrent.futures
    import multiprocessing

    def handler(event, context):
        makers = {
            "Lock": multiprocessing.Lock,
            "RLock": multiprocessing.RLock,
            "Semaphore": multiprocessing.Semaphore,
            "Event": multiprocessing.Event,
            "Queue": multiprocessing.Queue,
            "SimpleQueue": multiprocessing.SimpleQueue,
            "ProcessPoolExecutor": lambda: concurrent.futures.ProcessPoolExecutor(2).submit(abs, -1).result(),
        }
        errors = {}
        for name, make in makers.items():
            try:
                make()
            except OSError as exc:
                errors[name] = [type(exc).__name__, exc.errno, str(exc)]
            else:
                errors[name] = None
        return errors
"""

PROCESS_AND_PIPE = """
    import multiprocessing
    import os

    def child(connection, numbers):
        connection.send({"pid": os.getpid(), "sum": sum(numbers)})
        connection.close()

    def handler(event, context):
        receiving, sending = multiprocessing.Pipe(duplex=False)
        process = multiprocessing.get_context("fork").Process(target=child, args=(sending, event["numbers"]))
        process.start()
        sending.close()
        answer = receiving.recv()
        process.join()
        return {"sum": answer["sum"], "other_process": answer["pid"] != os.getpid(), "exitcode": process.exitcode}
"""


def test_pool_in_a_handler_fails_with_lambda_s_errno_38(localaws_env):
    name = create_function(POOL)
    response, body = invoke(name)
    assert response["FunctionError"] == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("OSError", "[Errno 38] Function not implemented")
    # as on AWS, the trace ends where multiprocessing calls the C extension, with no localaws frame after it
    assert "multiprocessing/synchronize.py" in body["stackTrace"][-1]
    assert "_multiprocessing.SemLock(" in body["stackTrace"][-1]
    assert not any("no_dev_shm" in frame for frame in body["stackTrace"])


def test_every_semlock_primitive_fails_the_same_way(localaws_env):
    name = create_function(PRIMITIVES)
    response, errors = invoke(name)
    assert "FunctionError" not in response
    assert errors == {
        name: ["OSError", 38, "[Errno 38] Function not implemented"]
        for name in ("Lock", "RLock", "Semaphore", "Event", "Queue", "SimpleQueue", "ProcessPoolExecutor")
    }


def test_process_and_pipe_work_in_a_handler(localaws_env):
    name = create_function(PROCESS_AND_PIPE)
    response, body = invoke(name, {"numbers": [1, 2, 3]})
    assert "FunctionError" not in response
    assert body == {"sum": 6, "other_process": True, "exitcode": 0}


def test_localaws_itself_keeps_its_semaphores():
    """The refusal lives in the worker processes only: the emulator's own process is untouched."""
    multiprocessing.Lock()
