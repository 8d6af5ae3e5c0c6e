"""Freed memory handed back to the system, so a long run's resident set is what is live.

glibc's malloc keeps the pages a process frees, spread over the arenas of the encoder's threads.
Measured: after each encode, ~60 MB of freed activations on a 10,000-title run
(benchmarks/local_encoders_results.md); after each part of a streamed run, 45-60 MB of its rows,
DataFrame and Parquet buffers (379-390 MB instead of 437 MB after the first part of 100,000 items).
The growth with the number of items was the encoder's (ONNX Runtime memory patterns, turned off in
``labnb.local.onnx_encoder``); see docs/guides/scale-with-ray.md.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
from functools import cache
from typing import Any


@cache
def _libc() -> Any:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None  # other allocators give memory back on their own terms
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def release_free_memory() -> None:
    """Give the heap's free pages back to the system (glibc's ``malloc_trim``; elsewhere nothing)."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
