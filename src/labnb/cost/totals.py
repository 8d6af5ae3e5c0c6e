"""Run totals derived from ``calls.jsonl``: token usage, cost and request latency.

Totals are always recomputed from the call log, so they include every call ever made for
the run (across resumes and retries). ``cost_usd`` is exact: the usage the API reported, priced.
Calls whose usage never came back (cancelled, unsettled, or answered with unusable counts) are
counted apart, with ``cost_usd_unsettled_max``: the most they can have cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labnb.config import ModelEntry, Pricing
from labnb.cost.usage import Usage, price
from labnb.store.calls import CallRecord


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (as numpy's default) without importing numpy."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (pos - low), 3)


def worst_cost(call: CallRecord, pricing: Pricing) -> float:
    """The most ``call`` can have cost: its counted input and its max_tokens, all at the uncached rate
    (the batch rate for a batch-API call)."""
    worst = Usage(call.usage_max.input_tokens, call.usage_max.output_tokens)
    return price(worst, pricing, batch=call.attempt == "batch").total


def call_cost(call: CallRecord, pricing: Pricing) -> float:
    """What ``call`` counts against a budget: its exact price, or its worst case when its usage is unknown."""
    if call.cache_hit:  # answered from the response cache: another run paid for it
        return 0.0
    if not call.usage_known:
        return worst_cost(call, pricing)
    return price(call.usage, pricing, batch=call.attempt == "batch").total


def token_usage(calls: Sequence[CallRecord], entry: ModelEntry, *, batch: bool = False) -> dict[str, Any]:
    """The content of ``outputs/token_usage.json``: tokens and cost billed, and apart what the response cache
    replayed (answers another run paid for: their tokens, at today's prices)."""
    unsettled = [c for c in calls if c.status == "unsettled"]
    unknown = [c for c in calls if not c.usage_known]
    calls = [c for c in calls if c.status != "unsettled"]
    replayed = [c for c in calls if c.cache_hit]
    billed = [c for c in calls if not c.cache_hit]
    usage = sum((c.usage for c in billed), Usage())
    cost = price(usage, entry.pricing, batch=batch)
    from_cache = sum((c.usage for c in replayed), Usage())
    by_attempt: dict[str, int] = {}
    for call in calls:
        by_attempt[call.attempt] = by_attempt.get(call.attempt, 0) + 1
    return {
        "total_prompt_tokens": usage.input_tokens,
        "total_completion_tokens": usage.output_tokens,
        "cached_prompt_tokens": usage.cached_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "total_tokens": usage.total_tokens,
        "calls_made": len(calls),
        "calls_failed": sum(1 for c in calls if c.status != "ok"),
        # Stopped in flight: the provider may have billed them, but no usage came back to count.
        "calls_cancelled": sum(1 for c in calls if c.status == "cancelled"),
        # Sent, and the run died before the answer was written: not in calls_made, maybe billed.
        "calls_unsettled": len(unsettled),
        "calls_usage_unknown": len(unknown),
        "cost_usd_unsettled_max": round(sum(worst_cost(c, entry.pricing) for c in unknown), 10),
        "calls_by_attempt": by_attempt,
        "retries": sum(c.retries for c in calls),
        "calls_from_cache": len(replayed),
        "cache_replayed_tokens": from_cache.total_tokens,
        "cost_usd_from_cache": round(price(from_cache, entry.pricing).total, 10),
        "model_used": entry.model_used,
        "cost_usd": round(cost.total, 10),
        "cost_breakdown": cost.to_dict(),
        "pricing": {**entry.pricing.__dict__, "currency": "USD", "unit": "per 1M tokens"},
        "batch_pricing": batch,
    }


def timing(calls: Sequence[CallRecord], duration: float, processed: int, failed: int, *,
           setup: float = 0.0, noun: str = "item") -> dict[str, Any]:
    """The content of ``outputs/timing.json``; ``setup`` (client and model loading) is part of ``duration``."""
    latencies = [c.latency_ms for c in calls]
    return {
        "total_duration_seconds": round(duration, 3),
        "setup_seconds": round(setup, 3),
        "processing_seconds": round(duration - setup, 3),
        f"{noun}s_processed": processed,
        "errors_count": failed,
        f"average_time_per_{noun}": round((duration - setup) / processed, 4) if processed else None,
        "calls": len(calls),
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
        "latency_max_ms": max(latencies) if latencies else None,
    }
