"""How many units are in flight: a fixed number, or ``auto`` (start at 8, grow while it pays, shrink when it hurts).

``auto`` grows like TCP slow start (one more slot per finished unit, so it doubles every round trip) while every
slot is taken, latency holds (within 1.5x the best seen), no 429 came and the rate limits do not set the pace (no
request held back, no bucket half empty); after a 429 from a server that sends no rate-limit headers it halves,
then grows by one slot per round trip. It never exceeds 64.

A server that sends no rate-limit headers (llama-server, Ollama, vLLM) does not refuse what it cannot serve: it
queues it, and every request waits behind the others. ``auto`` sees that as latency growing with the number in
flight (TCP Vegas, Netflix's concurrency-limits): once the smoothed latency is more than twice the best seen, it
estimates by Little's law how many requests the server works on at once (in flight x best latency / latency) and
keeps that many plus one in flight (one waiting, so the server never idles), growing again when latency allows.
Against a server of the user's own (``base_url`` in models.yaml) ``auto`` sends one request first: if its
answer carries rate-limit headers it goes on at 8 as above, if not it grows from 1 by slow start while answers
come back without waiting (a queueing server would otherwise get 8 at once, and on a slow CPU they time out).
Where the server says how long it worked on a request (llama-server's ``timings``), latency over that time is
the measure, not the best latency seen (which a slow first request, or long answers, would inflate). A call that
times out at such a server counts like a 429 without headers: it halves. Against providers that send rate-limit
headers the headers set the pace, as before.
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
QUEUEING = 2.0  # latency (smoothed) beyond this factor of the best seen: a headerless server queues requests
HEADROOM = 1  # requests kept waiting at a queueing server beyond what it serves at once (it never idles)
SMOOTHING = 0.2  # weight of a new latency sample


def _ema(smooth: float | None, sample: float) -> float:
    return sample if smooth is None else smooth * (1 - SMOOTHING) + sample * SMOOTHING


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

    def __init__(self, concurrency: int | str | None, *, probe: bool = False, deadline: float | None = None) -> None:
        self.auto = concurrency in (None, AUTO)
        # ``probe`` (auto, a server of the user's own: base_url): one request first, to see what answers it
        self._probing = self.auto and probe
        self.start = 1 if self._probing else AUTO_START if self.auto else int(concurrency)  # type: ignore[arg-type]
        self.target = self.start
        self.workers = AUTO_MAX if self.auto else self.target
        self.peak = self.target
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._threshold = float(AUTO_MAX)  # slow start below it, one slot per round trip above
        self._credit = 0.0
        self._best: float | None = None
        self._smooth: float | None = None
        self._seen_429 = self._seen_timeouts = 0
        self._cut_at = 0.0
        self._stretch: float | None = None  # latency / the server's own time, smoothed (when it says its time)
        self.overload_cuts = 0  # halvings after a 429 without headers or a timeout
        self._load: float | None = None  # units in flight when a unit started (smoothed like latency)
        # In flight needed to keep a queueing server busy (Little's law).
        self.served: float | None = None
        self.queue_cuts = 0  # times the target was lowered because the server queued
        self._from_server = False  # a unit that sent a request has finished
        self.deadline = deadline  # seconds a call may take (models.yaml ``timeout``)
        self.deadline_holds = 0  # growths not made: one more in flight could wait past half the deadline

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

    def finished(self, latency: float, rate_limited: int, limited: bool, *, load: int = 0, paced: bool = False,
                 sent: bool = True, service: float = 0.0, timeouts: int = 0, answered: bool = True) -> None:
        """A unit took ``latency`` seconds; ``rate_limited``: 429s so far that came without rate-limit headers;
        ``limited``: the rate limits set the pace now (more slots would only wait); ``load``: units in flight
        when it started (itself included); ``paced``: the provider sends rate-limit headers; ``sent``: the unit
        sent a request (one answered from the response cache did not: its latency says nothing of the server);
        ``service``: seconds the server says it worked on the unit (llama-server's ``timings``; 0: not said);
        ``timeouts``: calls so far that got no answer within their deadline; ``answered``: a request of the unit
        got an answer (an error status such as a context 400 comes back fast and says nothing of the queue: its
        latency is not measured, but its 429s and timeouts still count).

        (Where the provider sends headers, the rate limiter paces by them and answers 429s itself.)
        """
        if not self.auto or (not sent and self._from_server):
            return
        if sent and not self._from_server:  # the first server latency: forget the units that reached none
            self._from_server, self._smooth, self._best, self._load = True, None, None, None
        if sent and self._probing:  # the first answer: a provider with rate-limit headers gets the usual start
            self._probing = False
            if paced:
                self._grow(AUTO_START - self.target)
        if answered:
            self._smooth = _ema(self._smooth, latency)
            self._best = self._smooth if self._best is None else min(self._best, self._smooth)
            self._load = _ema(self._load, load or self.active)
            if service > 0:  # the server's own time: latency beyond it was spent waiting in its queue
                now_stretch = max(latency / service, 1.0)
                self._stretch = _ema(self._stretch, now_stretch)
            else:
                now_stretch = latency / max(self._best, 1e-9)
            stretch = self._stretch if self._stretch is not None else self._smooth / max(self._best, 1e-9)
        overloaded = rate_limited > self._seen_429 or (not paced and timeouts > self._seen_timeouts)
        self._seen_429, self._seen_timeouts = rate_limited, timeouts
        if overloaded:  # a 429 we cannot pace by, or a headerless server too slow to answer: halve (AIMD)
            now = time.monotonic()
            if now - self._cut_at > (self._smooth or latency):  # at most one cut per round trip
                self._cut_at = now
                self.target = max(1, self.target // 2)
                self._threshold = self.target
                self.overload_cuts += 1
            return
        if not answered:
            return
        if not paced and stretch > QUEUEING:
            self._queued(stretch)
            return
        if not self._waiters or limited or stretch > LATENCY_HOLDS:
            return
        if not paced and now_stretch > LATENCY_HOLDS:  # this answer waited: no more until one does not
            return
        if not paced and self.deadline and self._past_deadline(stretch):
            self.deadline_holds += 1
            return
        if self.target < self._threshold:
            self._grow(1)
        else:
            self._credit += 1 / self.target
            if self._credit >= 1:
                self._credit -= 1
                self._grow(1)

    def _past_deadline(self, stretch: float) -> bool:
        """One more in flight could make a request wait past half its deadline: at a queueing server each takes
        about (in flight / served at once) x the no-queue latency (a CPU server at minutes per answer)."""
        assert self._smooth is not None and self.deadline is not None
        alone = self._smooth / max(stretch, 1.0)
        return (self.target + 1) * alone > self.deadline / 2 * max(1.0, self.served or 1.0)

    def _queued(self, stretch: float) -> None:
        """Latency grew with the number in flight: keep what keeps the server busy, plus ``HEADROOM``.

        ``stretch`` is latency over the no-queue latency (the server's own time, or the best latency seen): a
        server answering ``load`` requests in ``stretch`` times the time one takes is kept busy by ``load /
        stretch`` in flight (Little's law; a one-slot server: 1, plus the client's own share of a round trip)."""
        assert self._load is not None
        self.served = self._load / stretch
        keep = max(1, round(self.served)) + HEADROOM
        if keep < self.target:
            self.target = keep
            self._threshold = keep  # from here on grow by one slot per round trip, not by slow start
            self._credit = 0.0
            self.queue_cuts += 1

    def _grow(self, n: int) -> None:
        self.target = min(AUTO_MAX, self.target + n)
        self.peak = max(self.peak, self.target)
        while self._waiters and self.active < self.target:
            future = self._waiters.popleft()
            if not future.done():
                self.active += 1
                future.set_result(None)

    def describe(self) -> dict[str, Any]:
        if not self.auto:
            return {"mode": "fixed", "start": self.target, "peak": self.peak, "final": self.target}
        out: dict[str, Any] = {"mode": AUTO, "start": self.start, "peak": self.peak, "final": self.target,
                               "max": AUTO_MAX, "queue_cuts": self.queue_cuts, "overload_cuts": self.overload_cuts}
        if self._best is not None and self._smooth is not None:
            out.update(best_latency_s=round(self._best, 3), latency_s=round(self._smooth, 3))
        said = []
        if self.queue_cuts:
            busy = self.served or 0.0
            out["keeps_server_busy"] = round(busy, 2)
            said.append(f"the server queued requests (latency grew with the number in flight): kept {self.target} "
                        f"in flight, as about {busy:.1f} keep it busy")
        if self.deadline_holds:
            out["deadline_holds"] = self.deadline_holds
            said.append(f"kept to {self.target} in flight: with more, a request could wait past half the "
                        f"{self.deadline:g} s timeout")
        if self.overload_cuts:
            said.append(f"halved {self.overload_cuts} time{'s' * (self.overload_cuts > 1)} after timeouts or 429s "
                        f"without rate-limit headers ({self.target} in flight at the end)")
        if said:
            out["decided"] = "; ".join(said)
        return out
