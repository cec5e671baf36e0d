"""Give the heap's free pages back to the operating system after a query, so localaws's RSS stays bounded.

glibc's malloc keeps pages freed inside its arenas (one per thread that allocated) resident when live chunks sit
around them, and trims on its own only the top of an arena. An Athena query allocates many small blocks on its
threads (the catalog's responses, the footers, the fragments, DuckDB's and pyarrow's working memory) and frees most
of them: the first count(*) over 1,000 files left ~30 MB of such free pages in the localaws server.
malloc_trim(0) releases the free pages of every arena (https://man7.org/linux/man-pages/man3/malloc_trim.3.html).
Where libc is not glibc (macOS, musl), there is nothing to call and nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # no such library, or a libc without malloc_trim (not glibc)
        return None


def supported() -> bool:
    return _malloc_trim() is not None


def release_free_pages() -> bool:
    """Return the free pages of every malloc arena to the OS; True if any memory was released (False where libc is
    not glibc)."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
