"""Turn one model response into item results; shared by live calls and batch-API results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from labnb.answers.confidence import confidences_by_item
from labnb.answers.parsing import parse_answer
from labnb.clients import ChatResponse
from labnb.store.calls import CallRecord
from labnb.store.results import ItemResult
from labnb.task import Item, Task


@dataclass
class Judged:
    """Results the answer settled; ``problem`` (malformed shape) and ``split`` (truncated batch) ask for more."""

    results: dict[str, ItemResult] = field(default_factory=dict)
    problem: str = ""
    split: bool = False


def failed(item: Item, call: CallRecord, raw: str = "") -> ItemResult:
    """An item whose call failed: status error with the call's error type."""
    return ItemResult(
        item.item_id, status="error", error_type=call.error_type, error=call.error,
        raw_response=raw[:4000], latency_ms=call.latency_ms, call_id=call.call_id,
    )


def stamp(results: dict[str, ItemResult], call: CallRecord) -> dict[str, ItemResult]:
    for result in results.values():
        result.latency_ms, result.call_id = call.latency_ms, call.call_id
    return results


def judge(items: Sequence[Item], response: ChatResponse, call: CallRecord, task: Task) -> Judged:
    """Validate ``response`` for ``items``; marks ``call`` failed for refusals and truncation."""
    if response.finish != "stop":
        if response.finish == "length" and len(items) > 1:
            return Judged(split=True)  # too long for one answer: ask for each item alone
        kind = "truncated" if response.finish == "length" else "refusal"
        call.status, call.error_type = "error", kind
        call.error = response.refusal or cut_off(response, call)
        return Judged({p.item_id: failed(p, call, response.text) for p in items})
    offered = task.offered(items)
    codes = task.choices() if offered is None else offered
    parsed = parse_answer(response.data, items, codes, item_noun=task.item_noun,
                          choice_noun=task.choice_noun, source=task.choices_source)
    for n, probability in confidences_by_item(response.data, response.token_logprobs).items():
        result = parsed.results.get(items[n - 1].item_id) if 0 < n <= len(items) else None
        if result is not None and result.status == "ok":
            result.confidence = probability
    return Judged(stamp(parsed.results, call), parsed.problem)


def cut_off(response: ChatResponse, call: CallRecord) -> str:
    """Why an answer stopped early: max_tokens, or (fewer tokens than that) a server context that filled up."""
    written, allowed = response.usage.output_tokens, call.usage_max.output_tokens
    if response.usage_known and 0 < written < allowed:
        return (f"the answer was cut off after {written} tokens, before max_tokens ({allowed}): prompt and answer "
                f"({response.usage.input_tokens + written} tokens) filled the model's context; give the server a "
                "larger context (llama-server --ctx-size) or send a shorter prompt")
    return "the answer was cut off at max_tokens"


def schema_violations(items: Sequence[Item], judged: Judged, raw: str) -> dict[str, ItemResult]:
    """``judged``'s results plus an ``invalid``/``bad_response`` row for every item it did not settle."""
    results = dict(judged.results)
    for item in items:
        if item.item_id not in results:
            results[item.item_id] = ItemResult(
                item.item_id, status="invalid", error_type="bad_response",
                error=f"answer violates the schema: {judged.problem}", raw_response=raw[:4000],
            )
    return results


def unanswered(items: Sequence[Item], results: dict[str, ItemResult], noun: str = "item") -> list[ItemResult]:
    """Results in input order, with an ``error``/``missing_answer`` row for each item left without one."""
    return [results.get(p.item_id) or ItemResult(
        p.item_id, status="error", error_type="missing_answer",
        error=f"the model's answer did not include this {noun}") for p in items]
