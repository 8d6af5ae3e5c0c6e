"""A cascade: a first model answers every item; items it is unsure of go to a second model.

``--escalate-to ALIAS --escalate-below P``: an item whose first answer is not ``ok`` or whose
confidence is below P is sent to the second model, whose answer replaces it. Each row records
the model that answered (``model_used``) and the first model's answer and confidence; calls of
the second model carry its ``model_used`` so that ``token_usage.json`` prices them at its rates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from labnb.classify.base import Classifier
from labnb.config import ModelEntry
from labnb.store.calls import CallRecord
from labnb.store.results import BatchOutcome, ItemResult
from labnb.task import Item, Task

CASCADE_COLUMNS = ("first_model", "first_answer", "first_confidence")


def escalates(result: ItemResult, threshold: float) -> bool:
    """Whether the first model's ``result`` goes to the second model."""
    return result.status != "ok" or result.confidence is None or result.confidence < threshold


def choice_id(task: Task, answer: dict[str, str]) -> str:
    """The id of the choice whose output columns are ``answer`` ('' when none is)."""
    return next((c.id for c in task.choices().values() if c.answer == answer), "")


class CascadeClassifier(Classifier):
    """Runs ``first`` on a batch, then ``second`` on the items to escalate, in requests of the run's batch size."""

    def __init__(self, first: Classifier, second: Classifier, task: Task, threshold: float,
                 first_entry: ModelEntry, second_entry: ModelEntry, concurrency: int = 8) -> None:
        super().__init__(first_entry)
        self.first, self.second, self.task, self.threshold = first, second, task, threshold
        self.first_model, self.second_model = first_entry.model_used, second_entry.model_used
        self.concurrency = concurrency
        self.requested = 1

    def start_call_ids(self, first: int) -> None:
        super().start_call_ids(first)
        self.first._numbers = self.second._numbers = self._numbers  # one id sequence for the run

    def batch_size(self, requested: int) -> int:
        # Rows are written per batch: small batches keep a crash from losing escalated answers.
        self.requested = requested
        return requested

    def estimate_tokens(self, items: Sequence[Item], *, exact: bool = True) -> int:
        return self.second.estimate_tokens(items, exact=exact)

    def estimate_output_tokens(self, items: Sequence[Item]) -> int:
        return self.second.estimate_output_tokens(items)

    async def classify(self, items: Sequence[Item]) -> BatchOutcome:
        first = await self.first.classify(items)
        outcome = BatchOutcome(calls=list(first.calls))
        answers = {r.item_id: r for r in first.results}
        escalated = [item for item in items if escalates(answers[item.item_id], self.threshold)]
        groups = [escalated[i:i + self.requested] for i in range(0, len(escalated), self.requested)]
        gate = asyncio.Semaphore(self.concurrency)

        async def ask(group: list[Item]) -> BatchOutcome:
            async with gate:
                return await self.second.classify(group)

        second: dict[str, ItemResult] = {}
        for result in await asyncio.gather(*(ask(group) for group in groups)):
            for call in result.calls:
                call.model = self.second_model
            outcome.calls.extend(result.calls)
            second.update((r.item_id, r) for r in result.results)
        for item in items:
            own = answers[item.item_id]
            final = second.get(item.item_id, own)
            final.model_used = self.second_model if item.item_id in second else self.first_model
            final.cascade = {"first_model": self.first_model, "first_answer": choice_id(self.task, own.answer),
                             "first_confidence": "" if own.confidence is None else f"{own.confidence:.6f}"}
            outcome.results.append(final)
        return outcome

    def prompt_templates(self) -> dict[str, Any]:
        return {"cascade": {"first": self.first_model, "second": self.second_model, "escalate_below": self.threshold},
                "first": self.first.prompt_templates(), "second": self.second.prompt_templates()}

    def provenance(self) -> dict[str, Any]:
        return {"first": self.first.provenance(), "second": self.second.provenance()}

    async def aclose(self) -> None:
        await self.first.aclose()
        await self.second.aclose()


def stage_metrics(task: Task, items: Sequence[Item], rows: Sequence[dict[str, Any]], first_model: str,
                  threshold: float) -> dict[str, Any]:
    """Accuracy of each stage and of the whole, from the finished rows (items with gold only)."""
    gold = {item.item_id: task.gold_choice(item) for item in items if item.has_gold}
    scored = [r for r in rows if r[task.id_column] in gold and r["status"] != "not_run"]

    def share(subset: list[dict[str, Any]], right: Any) -> float | None:
        return round(sum(1 for r in subset if right(r)) / len(subset), 6) if subset else None

    def final_right(r: dict[str, Any]) -> bool:
        return str(r.get("correct")).lower() == "true"

    def first_right(r: dict[str, Any]) -> bool:
        return r["first_answer"] == gold[r[task.id_column]]

    kept = [r for r in scored if r["model_used"] == first_model]
    sent = [r for r in scored if r["model_used"] != first_model]
    return {
        "escalate_below": threshold, "items": len(scored), "answered_by_first": len(kept), "escalated": len(sent),
        "escalated_share": round(len(sent) / len(scored), 6) if scored else None,
        "first_model": first_model, "second_model": sent[0]["model_used"] if sent else None,
        "accuracy": {"overall": share(scored, final_right), "first_model_alone": share(scored, first_right),
                     "first_stage_kept": share(kept, final_right), "second_stage": share(sent, final_right),
                     "first_model_on_escalated": share(sent, first_right)},
    }


def cascade_cell(result: ItemResult, column: str) -> str:
    """The row value of a cascade column (empty for a row without cascade information)."""
    info = getattr(result, "cascade", None) or {}
    return str(info.get(column, ""))



def cascade_token_usage(calls: Sequence[CallRecord], first: ModelEntry, second: ModelEntry,
                        usage_of: Callable[[list[CallRecord], ModelEntry], dict[str, Any]]) -> dict[str, Any]:
    """token_usage.json of a cascade: each model's calls at its own prices (``by_model``), and their sums."""
    parts = {first.model_used: usage_of([c for c in calls if c.model != second.model_used], first),
             second.model_used: usage_of([c for c in calls if c.model == second.model_used], second)}
    total: dict[str, Any] = {}
    for part in parts.values():
        for key, value in part.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                total[key] = total.get(key, 0) + value
    breakdown: dict[str, float] = {}
    for part in parts.values():
        for key, value in part["cost_breakdown"].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                breakdown[key] = round(breakdown.get(key, 0.0) + value, 10)
    by_attempt: dict[str, int] = {}
    for part in parts.values():
        for key, value in part["calls_by_attempt"].items():
            by_attempt[key] = by_attempt.get(key, 0) + value
    total.update(cost_usd=round(total["cost_usd"], 10), cost_breakdown=breakdown, calls_by_attempt=by_attempt,
                 model_used=f"{first.model_used} -> {second.model_used}", by_model=parts,
                 pricing={model: part["pricing"] for model, part in parts.items()}, batch_pricing=False)
    return total


def escalated_items(plan: Any) -> tuple[list[Item], bool]:
    """The items a cascade would escalate, and whether that is known before any call (a local first model)."""
    from labnb.providers import create_classifier, provider

    if provider(plan.entry).chat:
        return list(plan.items), False
    first = create_classifier(plan.entry, plan.task)
    outcome = asyncio.run(first.classify(plan.items))
    threshold = plan.options.escalate_below
    return [item for item, r in zip(plan.items, outcome.results) if escalates(r, threshold)], True
