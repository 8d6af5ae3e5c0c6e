"""Freed memory handed back to the system after each part, so a streamed run's resident set stays flat.

Measured (``benchmarks/scale.py`` and a per-part probe of VmRSS, VmHWM and tracemalloc): the Python objects
of a streamed run stay flat part after part (~43 MB traced), yet glibc's malloc kept the pages freed by
each part (the part's rows, its DataFrame and Parquet buffers, the encoder's per-batch arrays, spread over
the arenas of the encoder's threads) and the resident set crept up with the number of parts. After
``malloc_trim`` the resident set after each part is what is live, and the peak is the model's load.
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


def release_freed() -> None:
    """Give the heap's free pages back to the system (glibc's ``malloc_trim``; elsewhere nothing)."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
