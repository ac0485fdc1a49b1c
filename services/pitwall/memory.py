"""Give memory back to the system after a burst of work.

A Pi runs every Pitwall process in a few hundred MiB. After a burst (a backlog of passes
drained, a re-score), CPython and glibc keep the freed memory mapped for reuse, so the
process stays at its peak size. ``release()`` collects garbage and asks glibc's allocator
to return free pages (``malloc_trim``); elsewhere (musl, macOS) it only collects.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc


def _load_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


_malloc_trim = _load_trim()


def release() -> None:
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)
