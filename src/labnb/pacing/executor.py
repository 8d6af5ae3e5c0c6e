"""Run units of work concurrently, within rate limits, stoppable at any moment.

Workers take a slot (``labnb.pacing.concurrency.Slots``: a fixed number, or ``auto``), then the next unit, then leave
from the rate limiter, so at most ``concurrency`` units are in flight and results are handed over
(``on_result``) the moment each finishes. Setting ``stop`` stops new units from starting; in-flight ones get
``grace`` seconds, then are cancelled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from labnb.pacing.budget import BudgetRefused
from labnb.pacing.concurrency import AUTO, Slots
from labnb.pacing.ratelimit import CURRENT, RateLimiter, RateStats

T = TypeVar("T")
R = TypeVar("R")
_END = object()


@dataclass
class StopSignal:
    """Why and how urgently to stop; ``reason`` is e.g. ``interrupted`` or ``budget_exhausted``."""

    event: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str = ""

    def set(self, reason: str) -> None:
        if not self.reason:
            self.reason = reason
        self.event.set()

    @property
    def is_set(self) -> bool:
        return self.event.is_set()


@dataclass
class Executor(Generic[T, R]):
    work: Callable[[T], Awaitable[R]]
    on_result: Callable[[T, R], None]
    concurrency: int | str = AUTO
    limiter: RateLimiter | None = None
    tokens_of: Callable[[T], int] = lambda unit: 0
    admit: Callable[[T], bool] = lambda unit: True  # False: the unit is not started
    grace: float = 5.0
    probe: bool = False  # auto: one request first, to see whether the server sends rate-limit headers
    deadline: float | None = None  # seconds a call may take: auto keeps a queueing server's wait well within it
    refused: int = 0  # units not admitted, or whose work raised BudgetRefused (left unprocessed)

    def __post_init__(self) -> None:
        self.limiter = self.limiter or RateLimiter()
        self.slots = Slots(self.concurrency, probe=self.probe, deadline=self.deadline)

    def stats(self) -> RateStats:
        """Limits learnt, 429s, waiting and concurrency of the work so far."""
        stats = self.limiter.snapshot()  # type: ignore[union-attr]
        stats.concurrency = self.slots.describe()
        return stats

    async def run(self, units: Iterable[T], stop: StopSignal) -> None:
        """Process ``units``; re-raises the first exception a unit raised (after cancelling the rest)."""
        source = iter(units)
        limiter, slots = self.limiter, self.slots
        assert limiter is not None

        failed = False  # a unit raised: nobody starts another one (the run is about to stop)

        async def worker() -> None:
            nonlocal failed
            while not stop.is_set:
                await slots.enter()
                try:
                    unit = next(source, _END)
                    if unit is _END or stop.is_set or failed:
                        return
                    if not self.admit(unit):  # type: ignore[arg-type]
                        self.refused += 1  # smaller units may still fit the budget
                        continue
                    ticket = await limiter.acquire(self.tokens_of(unit))  # type: ignore[arg-type]
                    CURRENT.set(ticket)
                    if stop.is_set:
                        return
                    load = slots.active  # units in flight as this one starts, itself included
                    clock = time.perf_counter()
                    try:
                        result = await self.work(unit)  # type: ignore[arg-type]
                    except BudgetRefused:  # its first request did not fit: nothing sent, smaller units may fit
                        self.refused += 1
                        continue
                    except BaseException:
                        failed = True
                        raise
                    slots.finished(time.perf_counter() - clock, limiter.blind_429s, limiter.pressed, load=load,
                                   paced=bool(limiter.buckets), sent=not ticket.fresh, service=ticket.service,
                                   timeouts=limiter.timeouts, answered=ticket.answered)
                finally:
                    slots.leave()
                self.on_result(unit, result)  # type: ignore[arg-type]

        tasks = {asyncio.create_task(worker()) for _ in range(max(1, slots.workers))}
        stopper = asyncio.create_task(stop.event.wait())
        try:
            await self._supervise(tasks, stopper)
        finally:
            stopper.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, stopper, return_exceptions=True)

    async def _supervise(self, tasks: set[asyncio.Task[None]], stopper: asyncio.Task[bool]) -> None:
        pending = set(tasks)
        while pending:
            done, _ = await asyncio.wait(pending | {stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in done & pending:
                pending.discard(task)
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            if stopper in done and pending:
                finished, pending = await asyncio.wait(pending, timeout=self.grace)
                for task in finished:
                    if not task.cancelled() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
                return
