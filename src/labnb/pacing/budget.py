"""``--max-cost``: the run's ledger, which every paid request goes through before it is sent.

One ledger per run. It starts from what ``calls.jsonl`` already holds (earlier sessions: settled calls
at their price, calls without usage at their worst case), and every request of the run asks it first:
first calls, single retries, repairs, a cascade's second model, each priced with the model it calls.

A request that fits (settled + reserved + its estimate ≤ budget) is reserved and sent. One that does not
fit waits while calls in flight may settle below their reservation, and is refused (``BudgetRefused``,
nothing sent) only when even the settled total leaves no room. So the run's spend stays within the
budget plus what the calls in flight cost beyond their estimates when it ran out.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from labnb.errors import UsageError


class BudgetRefused(Exception):
    """The budget cannot take this request, now or later; nothing was sent."""


def check_max_cost(value: Any, flag: str = "--max-cost") -> None:
    """A budget is a finite positive number of USD; anything else (nan, inf, 0, negative) is a usage error."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise UsageError(f"{flag} must be a finite positive number of USD, got {value}")


class Ledger:
    """Settled spend, reservations in flight and the budget (``max_cost`` None: record only, never refuse)."""

    def __init__(self, max_cost: float | None, settled: float = 0.0) -> None:
        check_max_cost(max_cost)
        self.max_cost = max_cost
        self.settled = settled
        self.in_flight = 0.0
        self._settled_one: asyncio.Event | None = None  # set (and replaced) whenever a call settles

    @property
    def room(self) -> float:
        """What is left once every settled call is paid (in-flight reservations not counted)."""
        return math.inf if self.max_cost is None else self.max_cost - self.settled

    def fits(self, cost: float) -> bool:
        """Whether ``cost`` fits beside everything settled (a batch submission, which cannot stop half-way)."""
        return cost <= self.room

    async def reserve(self, estimate: float) -> None:
        """Reserve ``estimate`` for a request, waiting while calls in flight may free room; ``BudgetRefused``
        when the settled total alone leaves too little."""
        if self.max_cost is None:
            self.in_flight += estimate
            return
        while True:
            if not self.fits(estimate):
                raise BudgetRefused(f"${estimate:.6f} does not fit the ${max(self.room, 0):.6f} left")
            if self.settled + self.in_flight + estimate <= self.max_cost or self.in_flight <= 0:
                self.in_flight += estimate
                return
            if self._settled_one is None:
                self._settled_one = asyncio.Event()
            await self._settled_one.wait()

    def settle(self, estimate: float, cost: float) -> None:
        """Replace a reservation by what the call cost (its worst case when its usage is unknown)."""
        self.in_flight = max(self.in_flight - estimate, 0.0)
        if self.in_flight < 1e-15:
            self.in_flight = 0.0
        self.settled += cost
        if self._settled_one is not None:  # every waiter checks again
            self._settled_one.set()
            self._settled_one = None
