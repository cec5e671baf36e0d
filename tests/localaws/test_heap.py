"""localaws.heap: the free pages glibc keeps between live blocks go back to the OS."""

from __future__ import annotations

import threading

import psutil
import pytest

from localaws import heap

pytestmark = pytest.mark.skipif(not heap.supported(), reason="malloc_trim is glibc's")

BLOCK = 4096  # above pymalloc's 512-byte limit, so each block comes from malloc
BLOCKS = 16_000  # 64 MB in all


def test_free_pages_between_live_blocks_are_released():
    kept: list[bytes] = []

    def allocate() -> None:  # on its own thread, hence in a malloc arena of its own, as a query's work is
        blocks = [bytes(BLOCK) for _ in range(BLOCKS)]
        kept.extend(blocks[::16])  # every 16th block stays live: the free ones between them cannot be trimmed off
        blocks.clear()  # the top of the arena, so glibc keeps them resident

    worker = threading.Thread(target=allocate)
    worker.start()
    worker.join()
    process = psutil.Process()
    before = process.memory_info().rss
    assert heap.release_free_pages()
    released = before - process.memory_info().rss
    assert released > BLOCK * BLOCKS // 2  # most of the ~60 MB freed
    assert len(kept) == BLOCKS // 16
