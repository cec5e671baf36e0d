"""Scratch folders of the transform (spilled Arrow blocks, Parquet files before upload): gone on every exit path.

A `scratch_dir` is removed when its block ends, by return or by any exception. Only a killed process (a Lambda
timeout or out-of-memory kill, SIGKILL) cannot remove its own, and Lambda keeps `/tmp` across such a reset of the
execution environment, whose ephemeral storage is only 512 MB by default
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html, "Failures during the invoke phase";
https://docs.aws.amazon.com/lambda/latest/dg/configuration-ephemeral-storage.html). So `remove_stale_scratch_dirs`,
called at the start of every invocation, removes the folders that no living process uses.

A living process holds an exclusive flock on its folder; the kernel drops it when the process dies, however it
dies. Folders are created and swept under one more lock (`<parent>/etl-scratch.lock`), so a sweep never sees a
folder between its creation and its lock. This holds in a temp dir shared by many processes (the CLI, notebooks,
tests), not only in a Lambda sandbox, and it does not depend on process ids, which a reset sandbox reuses.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)
SCRATCH_PREFIX = "etl-scratch-"
_CREATION_LOCK = "etl-scratch.lock"


@contextlib.contextmanager
def _creation_lock(parent: Path) -> Iterator[None]:
    descriptor = os.open(parent / _CREATION_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing drops the lock


class ScratchDir:
    """A new folder `<parent>/etl-scratch-<label><random>` (parent: the system temp dir) that this process holds until
    `close()` removes it."""

    def __init__(self, parent: str | os.PathLike[str] | None = None, label: str = "") -> None:
        base = Path(parent or tempfile.gettempdir())
        with _creation_lock(base):
            self.path = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{label}", dir=base)
            self._descriptor: int | None = os.open(self.path, os.O_RDONLY)
            fcntl.flock(self._descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh folder: nobody else holds it

    def close(self) -> None:
        if self._descriptor is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            os.close(self._descriptor)
            self._descriptor = None


@contextlib.contextmanager
def scratch_dir(parent: str | os.PathLike[str] | None = None, label: str = "") -> Iterator[str]:
    """A `ScratchDir` removed when the block ends, by return or by exception; yields its path."""
    scratch = ScratchDir(parent, label)
    try:
        yield scratch.path
    finally:
        scratch.close()


def remove_stale_scratch_dirs(parent: str | os.PathLike[str] | None = None) -> list[str]:
    """Remove the scratch folders under `parent` (the system temp dir) left by processes that died; returns them."""
    base = Path(parent or tempfile.gettempdir())
    if not base.is_dir():
        return []
    removed = []
    with _creation_lock(base):
        for entry in base.iterdir():
            if not entry.name.startswith(SCRATCH_PREFIX) or not entry.is_dir() or entry.is_symlink():
                continue
            descriptor = os.open(entry, os.O_RDONLY)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a living process holds it
            finally:
                os.close(descriptor)
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(str(entry))
    if removed:
        log.info("removed %d scratch folders left by killed attempts: %s", len(removed), removed)
    return removed
