"""How many units are in flight: a fixed number, or ``auto`` (start at 8, grow while it pays, AIMD on 429s).

``auto`` grows like TCP slow start (one more slot per finished unit, so it doubles every round trip) while every
slot is taken, latency holds (within 1.5x the best seen), no 429 came and the rate limits do not set the pace (no
request held back, no bucket half empty); after a 429 from a server that sends no rate-limit headers it halves,
then grows by one slot per round trip. It never exceeds 64.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from labnb.errors import UsageError

AUTO = "auto"
AUTO_START, AUTO_MAX = 8, 64
LATENCY_HOLDS = 1.5  # latency (smoothed) within this factor of the best seen


def parse_concurrency(value: Any) -> int | str:
    """``auto`` or a positive number (from the command line or a recorded run); raises UsageError otherwise."""
    if value is None or (isinstance(value, str) and value.strip().lower() == AUTO):
        return AUTO
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"--concurrency must be 'auto' or a number, got {value!r}") from None
    if number < 1:
        raise UsageError(f"--concurrency must be at least 1, got {number}")
    return number


def initial(value: int | str | None) -> int:
    """The number of requests the first wave sends (for cost projections)."""
    return AUTO_START if value is None or value == AUTO else int(value)


class Slots:
    """At most ``target`` holders at once; ``enter`` waits first come, first served."""

    def __init__(self, concurrency: int | str | None) -> None:
        self.auto = concurrency in (None, AUTO)
        self.target = AUTO_START if self.auto else int(concurrency)  # type: ignore[arg-type]
        self.workers = AUTO_MAX if self.auto else self.target
        self.peak = self.target
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._threshold = float(AUTO_MAX)  # slow start below it, one slot per round trip above
        self._credit = 0.0
        self._best: float | None = None
        self._smooth: float | None = None
        self._seen_429 = 0
        self._cut_at = 0.0

    async def enter(self) -> None:
        if self.active < self.target and not self._waiters:
            self.active += 1
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        await future  # the slot is handed over by ``leave`` (or ``_grow``)

    def leave(self) -> None:
        while self._waiters and self.active <= self.target:
            future = self._waiters.popleft()
            if not future.done():
                future.set_result(None)
                return
        self.active -= 1

    def finished(self, latency: float, rate_limited: int, limited: bool) -> None:
        """A unit took ``latency`` seconds; ``rate_limited``: 429s so far that came without rate-limit headers;
        ``limited``: the rate limits set the pace now (more slots would only wait).

        (Where the provider sends headers, the rate limiter paces by them and answers 429s itself.)
        """
        if not self.auto:
            return
        self._smooth = latency if self._smooth is None else self._smooth * 0.8 + latency * 0.2
        self._best = self._smooth if self._best is None else min(self._best, self._smooth)
        now = time.monotonic()
        if rate_limited > self._seen_429:
            self._seen_429 = rate_limited
            if now - self._cut_at > self._smooth:  # at most one cut per round trip
                self._cut_at = now
                self.target = max(1, self.target // 2)
                self._threshold = self.target
            return
        if not self._waiters or limited or self._smooth > LATENCY_HOLDS * self._best:
            return
        if self.target < self._threshold:
            self._grow(1)
        else:
            self._credit += 1 / self.target
            if self._credit >= 1:
                self._credit -= 1
                self._grow(1)

    def _grow(self, n: int) -> None:
        self.target = min(AUTO_MAX, self.target + n)
        self.peak = max(self.peak, self.target)
        while self._waiters and self.active < self.target:
            future = self._waiters.popleft()
            if not future.done():
                self.active += 1
                future.set_result(None)

    def describe(self) -> dict[str, Any]:
        return {"mode": AUTO if self.auto else "fixed", "start": AUTO_START if self.auto else self.target,
                "peak": self.peak, "final": self.target, **({"max": AUTO_MAX} if self.auto else {})}
