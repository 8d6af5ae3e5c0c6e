"""Documented upper limits of run options: past them a value is a typo, not a plan."""

from __future__ import annotations

from labnb.errors import UsageError

# Each request in flight costs a worker task and a connection; no provider account serves more.
MAX_CONCURRENCY = 512
# A day per request: longer is a typo, and values near 1e12 overflow the OS timers the HTTP stack uses.
MAX_TIMEOUT_SECONDS = 86_400


def check_run_limits(concurrency: int | None = None, timeout: float | None = None) -> None:
    """Refuse ``--concurrency`` and ``--timeout`` past the documented maxima (one-line UsageError)."""
    if concurrency is not None and concurrency > MAX_CONCURRENCY:
        raise UsageError(f"--concurrency must be at most {MAX_CONCURRENCY}, got {concurrency}")
    if timeout is not None and not timeout <= MAX_TIMEOUT_SECONDS:  # "not <=" also refuses NaN
        raise UsageError(f"--timeout must be at most {MAX_TIMEOUT_SECONDS} seconds, got {timeout:g}")
