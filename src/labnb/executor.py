"""Run units of work concurrently, within rate limits, stoppable at any moment.

Workers pull from one shared iterator, so at most ``concurrency`` units are in flight and
results are handed over (``on_result``) the moment each finishes. Setting ``stop`` stops
new units from starting; in-flight ones get ``grace`` seconds, then are cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from labnb.ratelimit import RateLimiter

T = TypeVar("T")
R = TypeVar("R")


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
    concurrency: int = 8
    limiter: RateLimiter | None = None
    tokens_of: Callable[[T], int] = lambda unit: 0
    admit: Callable[[T], bool] = lambda unit: True  # False: the budget does not allow this unit
    grace: float = 5.0
    refused: int = 0  # units the budget did not admit (left unprocessed; smaller ones may still fit)

    async def run(self, units: Iterable[T], stop: StopSignal) -> None:
        """Process ``units``; re-raises the first exception a unit raised (after cancelling the rest)."""
        source = iter(units)

        async def worker() -> None:
            for unit in source:
                if stop.is_set:
                    return
                if not self.admit(unit):
                    self.refused += 1
                    continue
                if self.limiter is not None:
                    await self.limiter.acquire(self.tokens_of(unit))
                    if stop.is_set:
                        return
                self.on_result(unit, await self.work(unit))

        tasks = {asyncio.create_task(worker()) for _ in range(max(1, self.concurrency))}
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
