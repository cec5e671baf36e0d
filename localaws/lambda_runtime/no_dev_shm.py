"""Lambda's missing /dev/shm, emulated: POSIX semaphores fail, so multiprocessing's Pool, Queue, Lock, Semaphore,
Condition, Event and Barrier (all built on _multiprocessing.SemLock) cannot be created, while Process and Pipe work.

On AWS, `multiprocessing.Pool()` in a handler raises `OSError: [Errno 38] Function not implemented` from
`_multiprocessing.SemLock(...)`, the execution environment having no /dev/shm:
https://aws.amazon.com/blogs/compute/parallel-processing-in-python-with-aws-lambda/ (use Process and Pipe instead);
reports with that exact traceback: nalepae/pandarallel#128 (python3.8), piskvorky/smart_open#672 (python3.9),
kyegomez/swarms#667 (python3.11), https://stackoverflow.com/questions/34005930.

Why a hook and not a worker without /dev/shm: hiding /dev/shm is possible in the worker's mount namespace
(tmp_storage.py), but glibc >= 2.34 then fails sem_open with ENOENT (`FileNotFoundError: [Errno 2]`), and a read-only
one with EROFS; only the glibc of Lambda's runtimes answers ENOSYS (older glibc looked /dev/shm up as a tmpfs mount
and gave up with ENOSYS). So `install()` replaces _multiprocessing.SemLock, which multiprocessing.synchronize calls
through the module attribute, with a subclass that refuses creation with the same errno and message; its class
attributes (SEM_VALUE_MAX) stay as they were. Forked children inherit it, as they inherit Lambda's missing /dev/shm.
Not covered: multiprocessing.shared_memory (shm_open), which no function here uses.

Standard library only: bootstrap.py loads this file by path, so nothing of localaws becomes importable by the function.
"""

from __future__ import annotations

import errno
import os
from typing import Any


def install() -> None:
    """From now on, in this process and its forked children, creating a SemLock raises OSError(ENOSYS), as on AWS."""
    import _multiprocessing

    base = _multiprocessing.SemLock
    if getattr(base, "_localaws_no_dev_shm", False):
        return

    class SemLock(base):  # type: ignore[misc, valid-type]
        __doc__ = base.__doc__
        _localaws_no_dev_shm = True

        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

    SemLock.__name__ = SemLock.__qualname__ = "SemLock"
    SemLock.__module__ = base.__module__
    _multiprocessing.SemLock = SemLock
