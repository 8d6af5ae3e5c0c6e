"""The interface between the run loop and whatever assigns labels (an LLM or the local model)."""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from labnb.config import ModelEntry
from labnb.pacing.budget import Ledger
from labnb.store.calls import CallRecord
from labnb.store.results import BatchOutcome
from labnb.task import Item


class Classifier(ABC):
    """Classifies a batch of items; never raises for one item's failure.

    It returns an ``ItemResult`` for every item it was given (status ``error`` when a
    call failed) and raises only ``RunAborted`` (bad key, no quota) to stop the whole run, or
    ``BudgetRefused`` when the budget refused its first request (nothing was sent for the batch).
    """

    def __init__(self, entry: ModelEntry) -> None:
        self.entry = entry
        self._numbers = itertools.count(1)
        self.on_call: Callable[[CallRecord], None] | None = None
        self.on_send: Callable[[CallRecord], None] | None = None
        self.ledger = Ledger(None)  # the run's: every paid request asks it first
        self.exact_tokens = False  # count input tokens exactly (a budget or a token rate limit needs it)
        self.call_model = ""  # the CallRecord.model of this classifier's calls (a cascade's second model)

    def attach(self, ledger: Ledger, *, on_call: Callable[[CallRecord], None] | None = None,
               on_send: Callable[[CallRecord], None] | None = None, exact_tokens: bool = False) -> None:
        """Join a run: its ledger, its writer of settled calls and of write-ahead lines."""
        self.ledger, self.on_call, self.on_send, self.exact_tokens = ledger, on_call, on_send, exact_tokens

    def sent(self, call: CallRecord) -> None:
        """Log ``call``'s write-ahead line; its request is sent only once this returns."""
        if self.on_send is not None:
            self.on_send(call)

    def record(self, call: CallRecord) -> None:
        """Hand ``call`` to the run's writer the moment it is settled (the batch may still be in flight)."""
        if self.on_call is not None:
            self.on_call(call)

    def start_call_ids(self, first: int) -> None:
        """Number calls from ``first`` on, so a resumed run never reuses a call id."""
        self._numbers = itertools.count(first)

    def new_call_id(self) -> str:
        return f"c{next(self._numbers):06d}"

    def batch_size(self, requested: int) -> int:
        """Items per call; the local model overrides this to encode in large batches."""
        return requested

    def estimate_tokens(self, items: Sequence[Item], *, exact: bool = True) -> int:
        """Input tokens a call for ``items`` will use: counted for budgets, or (``exact=False``) a cheap
        estimate that rate-limit pacing calibrates against the provider's own counts."""
        return 0

    def estimate_output_tokens(self, items: Sequence[Item]) -> int:
        return 0

    @abstractmethod
    async def classify(self, items: Sequence[Item]) -> BatchOutcome:
        """Classify ``items`` (one request for LLMs)."""

    def prompt_templates(self) -> dict[str, Any]:
        """What goes to ``inputs/prompt_templates.json``."""
        return {}

    def provenance(self) -> dict[str, Any]:
        """Extra facts for ``system_info.json`` (e.g. a local model's weights hash)."""
        return {}

    def answers_from_cache(self, items: Sequence[Item]) -> bool:
        """Whether the response cache holds the answer for ``items``: nothing to send, nothing to budget."""
        return False

    def use_cache(self, cache: Any, run_id: str, *, read: bool = True) -> None:
        """Answer from the response cache ``cache`` (a ``labnb.cache.store.ResponseCache``); LLMs only."""

    async def aclose(self) -> None:
        """Release clients and models."""
