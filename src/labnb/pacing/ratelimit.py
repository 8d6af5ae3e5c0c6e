"""Pace requests by the provider's own rate limits, read from every response; models.yaml caps on top.

The executor takes a ``Ticket`` (``acquire``) before a unit of work starts; the HTTP hooks of the SDK clients
(labnb.clients.http) stamp each request with it and feed every response's rate-limit headers back (``observe``).
An SDK retry or a second call of the same unit is paced again in the request hook. On a 429 the SDK waits as
told (retry-after, capped); we re-align with the headers the 429 carries and hold back a larger reserve of the
bucket (AIMD: doubled on a 429, shrunk step by step by every success). Servers that send no headers are paced by
concurrency alone, plus a pause for every request after a 429 with a ``retry-after``.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labnb.pacing.ratebucket import Bucket, cost_of
from labnb.pacing.ratelimit_headers import readings
from labnb.pacing.ratestats import RateStats

RESERVE_MIN, RESERVE_MAX = 0.01, 0.25  # fraction of a bucket held back (AIMD)
RESERVE_STEP = 0.002  # given back per successful response
SHOW_WAIT_AFTER = 0.5  # seconds: a longer wait is shown on the progress bar at once
STALE_AFTER = 300.0  # seconds after which an unanswered request no longer counts as in flight
EXTENSION = "labnb.pacing.ratelimit"  # httpx request extension carrying the Stamp

CURRENT: contextvars.ContextVar[Ticket | None] = contextvars.ContextVar("labnb_rate_ticket", default=None)


@dataclass(slots=True)
class Stamp:
    """One request: when it went out, its costs, and the limiter's running totals after it."""

    limiter: RateLimiter
    seq: int
    costs: tuple[float, float, float]  # requests, input tokens, output tokens
    sent: tuple[float, float, float]
    at: float


@dataclass(slots=True)
class Ticket:
    """Leave to send one unit's first request; later requests of the unit are paced again."""

    limiter: RateLimiter
    tokens: int
    stamp: Stamp
    fresh: bool = True  # no request sent yet
    service: float = 0.0  # seconds the server said it worked on the unit's requests (llama-server's timings)
    answered: bool = False  # a request of the unit got a successful answer (not only errors)

    async def stamp_for_request(self) -> Stamp:
        if self.fresh:
            self.fresh = False
            self.stamp.at = self.limiter.clock()
            return self.stamp
        return (await self.limiter.acquire(self.tokens)).stamp


class RateLimiter:
    """Learns the provider's buckets from headers; ``rpm``/``tpm`` (models.yaml) are optional caps on top."""

    def __init__(self, rpm: int | None = None, tpm: int | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rpm, self.tpm, self.clock = rpm, tpm, clock
        now = clock()
        self.caps = [b for b in (Bucket.cap("requests", rpm, now) if rpm else None,
                                 Bucket.cap("tokens", tpm, now) if tpm else None) if b is not None]
        self.buckets: dict[str, Bucket] = {}
        self.reserve = RESERVE_MIN
        self.stats = RateStats()
        self.on_wait: Callable[[], None] | None = None  # called when a long wait starts and ends (progress bar)
        self._sent = (0.0, 0.0, 0.0)
        self._seq = 0
        self._outstanding: dict[int, Stamp] = {}  # sent, not answered yet
        self._ratio_in, self._out = 1.0, 0.0  # calibration: provider tokens per estimated token; output per call
        self._samples = 0
        self.blind_429s = 0  # 429s without rate-limit headers: only concurrency can answer those
        self.timeouts = 0  # calls without an answer within their deadline (an overloaded server, or a slow one)
        self._blocked_until = 0.0
        self._raised_at = -1.0
        self._lock = asyncio.Lock()
        self._wake: asyncio.Future[None] | None = None
        self._waiting_since: float | None = None
        self._last_wait_end = -1e9

    # -- sending -----------------------------------------------------------------------------------------------
    def _costs(self, tokens: int) -> tuple[float, float, float]:
        return 1.0, max(tokens, 0) * self._ratio_in, self._out

    def delay(self, costs: tuple[float, float, float], now: float) -> float:
        """Seconds to wait before a request of ``costs`` may go (0: now)."""
        wait = self._blocked_until - now
        for bucket in self.caps:
            wait = max(wait, bucket.delay(cost_of(bucket.kind, costs), now, 0.0))
        for bucket in self.buckets.values():
            wait = max(wait, bucket.delay(cost_of(bucket.kind, costs), now, self.reserve))
        return max(wait, 0.0)

    def _take(self, costs: tuple[float, float, float], now: float) -> Stamp:
        for bucket in (*self.caps, *self.buckets.values()):
            bucket.take(cost_of(bucket.kind, costs))
        self._sent = (self._sent[0] + costs[0], self._sent[1] + costs[1], self._sent[2] + costs[2])
        self._seq += 1
        stamp = self._outstanding[self._seq] = Stamp(self, self._seq, costs, self._sent, now)
        return stamp

    async def acquire(self, tokens: int = 0) -> Ticket:
        """Wait (first come, first served) until a request of about ``tokens`` input tokens may be sent."""
        costs = self._costs(tokens)
        async with self._lock:
            now = self.clock()
            wait = self.delay(costs, now)
            if wait > 0:
                await self._wait(costs, wait, now)
                now = self.clock()
            return Ticket(self, tokens, self._take(costs, now))

    async def _wait(self, costs: tuple[float, float, float], wait: float, start: float) -> None:
        self.stats.rate_limit_waits += 1
        self._waiting_since = start
        loop = asyncio.get_running_loop()
        shown = False
        try:
            while wait > 0:
                if not shown and wait >= SHOW_WAIT_AFTER and self.on_wait is not None:
                    shown = True
                    self.on_wait()
                self._wake = loop.create_future()
                timer = loop.call_later(wait, _resolve, self._wake)
                try:
                    await self._wake  # a response may re-align the buckets and wake us early
                finally:
                    timer.cancel()
                    self._wake = None
                wait = self.delay(costs, self.clock())
        finally:
            end = self.clock()
            self.stats.rate_limit_wait_seconds += end - start
            self._waiting_since, self._last_wait_end = None, end
            if shown and self.on_wait is not None:
                self.on_wait()

    @property
    def waiting(self) -> bool:
        """True while a request is held back, or was within the last second."""
        return self._waiting_since is not None or self.clock() - self._last_wait_end < 1.0

    @property
    def pressed(self) -> bool:
        """True when the limits, not concurrency, set the pace: a request is held back, or a bucket is half empty.

        More requests in flight would then only wait (and every open connection costs CPU on each request).
        """
        return self.waiting or any(b.capacity and b.level < 0.5 * b.capacity for b in self.buckets.values())

    def status(self) -> str:
        """For the progress bar."""
        return "waiting for rate limit" if self.waiting else ""

    # -- learning ----------------------------------------------------------------------------------------------
    def observe(self, status: int, headers: Any, stamp: Stamp | None) -> None:
        """Learn from one HTTP response (``headers``: an httpx Headers) to a request sent with ``stamp``."""
        now = self.clock()
        age = now - stamp.at if stamp else 0.0
        # Anthropic's resets are times: count them from when the provider answered (about when we sent).
        found = readings(headers.items(), time.time() - age)
        unseen = self._unseen(stamp, now) if found and stamp else (0.0, 0.0, 0.0)
        for reading in found:
            bucket = self.buckets.get(reading.kind)
            if bucket is None:
                bucket = self.buckets[reading.kind] = Bucket(reading.kind, reading.limit, now=now)
            bucket.observe(reading, cost_of(reading.kind, unseen), age, now)
        if status == 429:
            self._rate_limited(headers, found, stamp, now)
        elif status < 400 and self.reserve > RESERVE_MIN:
            self.reserve = max(RESERVE_MIN, self.reserve - RESERVE_STEP)
        if found and self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _unseen(self, stamp: Stamp, now: float) -> tuple[float, float, float]:
        """Costs the provider had not counted yet when it answered ``stamp``'s request.

        Everything sent after it, and (requests overtake each other on the way) everything sent before it and
        still unanswered. Requests that never got an answer are forgotten after a while.
        """
        self._outstanding.pop(stamp.seq, None)
        unseen = _minus(self._sent, stamp.sent)
        for seq, other in list(self._outstanding.items()):
            if other.at < now - STALE_AFTER:
                del self._outstanding[seq]
            elif seq < stamp.seq:
                unseen = (unseen[0] + other.costs[0], unseen[1] + other.costs[1], unseen[2] + other.costs[2])
        return unseen

    def _rate_limited(self, headers: Any, found: list, stamp: Stamp | None, now: float) -> None:
        self.stats.rate_limited_responses += 1
        retry_after = _retry_after(headers)
        self.stats.retry_after_seconds += retry_after or 0.0
        if stamp is None or stamp.at > self._raised_at:  # once per round: later 429s were sent before it
            self.reserve = min(RESERVE_MAX, self.reserve * 2 + RESERVE_MIN)
            self._raised_at = now
        if not found:
            self.blind_429s += 1
            if retry_after:  # no headers to pace by: hold every request for as long as we were told
                self._blocked_until = max(self._blocked_until, now + retry_after)

    def observe_usage(self, tokens: int, input_tokens: int, output_tokens: int) -> None:
        """Calibrate token estimates with what the provider counted for a call estimated at ``tokens``."""
        alpha = 1.0 if self._samples == 0 else 0.2
        self._samples += 1
        if tokens > 0:
            self._ratio_in += alpha * (input_tokens / tokens - self._ratio_in)
        self._out += alpha * (output_tokens - self._out)

    def snapshot(self) -> RateStats:
        """The stats with the limits as learnt so far."""
        limits = {b.kind: b.describe() for b in self.buckets.values()}
        for cap in self.caps:
            limits[f"cap_{cap.kind}"] = {**cap.describe(), "per_minute": self.rpm if cap.kind == "requests"
                                         else self.tpm}
        self.stats.limits = limits
        return self.stats


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _minus(a: tuple[float, float, float], b: tuple[float, float, float]) -> tuple[float, float, float]:
    return a[0] - b[0], a[1] - b[1], a[2] - b[2]


def _retry_after(headers: Any) -> float | None:
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return max(float(value) * scale, 0.0)
            except ValueError:
                continue
    return None


# -- the HTTP side (called from the SDK clients' httpx hooks and from their generate()) -----------------------
async def before_send(request: Any) -> None:
    """Request hook: pace and stamp a request sent on behalf of a ticket (SDK retries are paced again)."""
    ticket = CURRENT.get()
    if ticket is not None:
        request.extensions[EXTENSION] = await ticket.stamp_for_request()


def after_response(response: Any) -> None:
    """Response hook: feed the rate-limit headers of every response back to the limiter that sent it."""
    stamp = response.request.extensions.get(EXTENSION)
    if stamp is not None:
        stamp.limiter.observe(response.status_code, response.headers, stamp)


def record_usage(input_tokens: int, output_tokens: int) -> None:
    """After a successful call: what the provider counted, to calibrate the current ticket's estimate."""
    ticket = CURRENT.get()
    if ticket is not None:
        ticket.answered = True
        ticket.limiter.observe_usage(ticket.tokens, input_tokens, output_tokens)


def record_service(seconds: float) -> None:
    """The server's own time for the current ticket's request (without its queue): what latency is measured by."""
    ticket = CURRENT.get()
    if ticket is not None and seconds > 0:
        ticket.service += seconds


def record_timeout() -> None:
    """A call of the current ticket got no answer within its deadline."""
    ticket = CURRENT.get()
    if ticket is not None:
        ticket.limiter.timeouts += 1
