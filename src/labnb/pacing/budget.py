"""``--max-cost``: refuse to start a request once spent plus in-flight cost would pass the budget."""

from __future__ import annotations

from labnb.config import Pricing
from labnb.cost.usage import Usage, price


class Budget:
    def __init__(self, max_cost: float | None, pricing: Pricing, *, batch: bool = False) -> None:
        self.max_cost = max_cost
        self.pricing = pricing
        self.batch = batch
        self.spent = 0.0
        self.in_flight = 0.0

    def estimate(self, input_tokens: int, output_tokens: int) -> float:
        return price(Usage(input_tokens, output_tokens), self.pricing, batch=self.batch).total

    def admit(self, estimate: float) -> bool:
        """Reserve ``estimate`` if the budget allows it."""
        if self.max_cost is not None and self.spent + self.in_flight + estimate > self.max_cost:
            return False
        self.in_flight += estimate
        return True

    def settle(self, estimate: float, usage: Usage) -> None:
        """Replace a reservation by what the call really cost."""
        self.in_flight = max(self.in_flight - estimate, 0.0)
        self.spent += price(usage, self.pricing, batch=self.batch).total
