"""``--dry-run``: render every request of a run, count its tokens offline, project the cost.

Input tokens are counted on the exact rendered text (system prompt, item lines, answer
schema) plus the chat framing; output tokens are projected from the answer format, one
average entry per item. Nothing is sent and no run folder is created.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from statistics import mean

from labnb import cache as response_cache
from labnb.cache.key import Replicates
from labnb.clients.requests import RequestBuilder, batches
from labnb.config import ModelEntry, load_models_config
from labnb.cost import tokens
from labnb.cost.duration_estimate import Demand, basis_note, cap_limits, estimate_duration
from labnb.cost.usage import Usage, price
from labnb.inputs.labelcols import column_split, columns_note
from labnb.pacing.concurrency import initial
from labnb.providers import counts_tokens, provider
from labnb.run.plan import Plan
from labnb.terminal.console import counted

OPENAI_MIN_CACHE_TOKENS = 1024


@dataclass(frozen=True)
class Projection:
    alias: str
    model_used: str
    requests: int
    input_tokens: int
    output_tokens: int
    prefix_tokens: int
    cost_uncached: float
    cost_cached: float
    cost_batch_api: float
    exact: bool
    from_cache: int = 0  # requests the response cache would answer: not in ``requests``, not priced


def project(entry: ModelEntry, plan: Plan) -> Projection:
    """Token counts and costs of running ``plan`` on ``entry`` (requests the response cache answers left out)."""
    size = plan.options.batch_size
    groups = batches(plan.items, size)
    if not counts_tokens(entry):
        return Projection(entry.alias, entry.model_used, len(groups), 0, 0, 0, 0.0, 0.0, 0.0, False)
    builder = RequestBuilder(entry, plan.task, explain=plan.options.explain)
    groups, hits = uncached(entry, plan, builder, groups)
    return replace(_projection(entry, plan, builder, groups), from_cache=hits)


def uncached(entry: ModelEntry, plan: Plan, builder: RequestBuilder, groups: list) -> tuple[list, int]:
    """The groups whose first request the response cache would not answer, and how many it would."""
    cache = None if plan.replay_of else response_cache.for_run(plan.options, readonly=True)
    if cache is None:
        return groups, 0
    replicates = Replicates()
    keys = [replicates.key(entry, builder.build(group)) for group in groups]
    found = cache.contains(keys)
    cache.close()
    return [g for g, k in zip(groups, keys) if k not in found], sum(k in found for k in keys)


def _projection(entry: ModelEntry, plan: Plan, builder: RequestBuilder, groups: list) -> Projection:
    n = builder.count
    prefix = builder.prefix_tokens()
    inputs = sum(builder.input_tokens(group) for group in groups)
    codes = plan.task.choices()
    per_item = mean(n(json.dumps({"n": 10, "k": k}, separators=(",", ":")) + ",") for k in codes)
    if plan.options.explain:
        per_item += 15
    outputs = round(sum(3 + per_item * len(group) for group in groups))
    return priced(entry, len(groups), inputs, outputs, prefix, initial(plan.options.concurrency))


def priced(entry: ModelEntry, requests: int, inputs: int, outputs: int, prefix: int, concurrency: int) -> Projection:
    """Costs of ``requests`` calls, uncached, with prefix caching, and at the batch-API rate."""
    # With caching, every request after the first wave (one per concurrent slot) reads the prefix from cache.
    first_wave = min(concurrency, requests)
    cache = provider(entry).cache
    cacheable = cache == "explicit" or (cache == "automatic" and prefix >= OPENAI_MIN_CACHE_TOKENS)
    cached = prefix * (requests - first_wave) if cacheable else 0
    written = prefix * first_wave if cache == "explicit" else 0
    plain = Usage(inputs, outputs)
    return Projection(
        alias=entry.alias, model_used=entry.model_used, requests=requests, input_tokens=inputs,
        output_tokens=outputs, prefix_tokens=prefix, cost_uncached=price(plain, entry.pricing).total,
        cost_cached=price(Usage(inputs, outputs, cached, written), entry.pricing).total,
        cost_batch_api=price(plain, entry.pricing, batch=True).total, exact=tokens.exact_for(entry),
    )


def _per_item(plan: Plan, entries: list[ModelEntry], rows: list[Projection]) -> list[str]:
    """With retrieval: tokens and cost per item, and what offering every choice in every request would cost."""
    whole = plan.task.whole()
    if whole is None or not plan.items:
        return []
    noun, count = plan.task.item_noun, len(plan.items)
    whole_plan = replace(plan, task=whole)
    out = [f"per {noun}, with the candidates each request offers vs every choice in every request (uncached):"]
    for entry, row in zip(entries, rows):
        if counts_tokens(entry):
            full = project(entry, whole_plan)
            out.append(f"  {entry.alias}: {row.input_tokens / count:,.1f} input tokens, "
                       f"${row.cost_uncached / count:.6f} per {noun}; every choice: "
                       f"{full.input_tokens / count:,.1f} tokens, ${full.cost_uncached / count:.6f} per {noun} "
                       f"({full.input_tokens / max(row.input_tokens, 1):.1f}x)")
    return out


def dry_run(plan: Plan, *, compare_models: bool = False) -> str:
    """The report printed by ``--dry-run`` (a table, one row per model)."""
    entries = list(load_models_config(plan.models_config_path).models.values()) if compare_models else [plan.entry]
    rows = [project(entry, plan) for entry in entries]
    head = (f"dry run: {counted(len(plan.items), plan.task.item_noun)}, batch size {plan.options.batch_size}, "
            f"{plan.task.describe()}; nothing was sent")
    offered, withheld = column_split(plan.items)
    head = "; ".join([head, *([columns_note(plan.items)] if offered or withheld else []), *plan.task.dry_run_notes()])
    if plan.options.batch_api:
        head += "; --batch-api: batch pricing applies, see the 'batch API' column"
    header = ("model", "requests", "input tok", "output tok", "prefix tok", "cost USD", "with cache", "batch API",
              "time (est.)", "tokens")
    times = [estimate_duration(Demand(r.requests, r.input_tokens, r.output_tokens), plan.options.concurrency,
                               plan.options.runs_dir, r.model_used, cap_limits(e.rpm, e.tpm),
                               server=bool(e.base_url or e.base_url_env))
             for r, e in zip(rows, entries)]
    body = [(r.alias, f"{r.requests:,}", f"{r.input_tokens:,}", f"{r.output_tokens:,}", f"{r.prefix_tokens:,}",
             f"{r.cost_uncached:.6f}", f"{r.cost_cached:.6f}", f"{r.cost_batch_api:.6f}",
             "n/a" if not counts_tokens(e) else t.text,
             "exact" if r.exact else ("n/a" if not counts_tokens(e) else "estimate"))
            for e, r, t in zip(entries, rows, times)]
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(str(cell).rjust(w) if i else str(cell).ljust(w) for i, (cell, w) in
                       enumerate(zip(row, widths))) for row in [header, *body]]
    lines += _per_item(plan, entries, rows)
    notes = ("'with cache' assumes the system prefix is read from the provider's cache after the first wave of "
             f"{initial(plan.options.concurrency)} concurrent requests; 'estimate' = o200k count x "
             f"{tokens.ESTIMATE_FACTOR}; 'time (est.)' is an estimate, {basis_note(times)}.")
    return "\n".join([head, *lines, notes, *cache_note(plan, rows), *cascade_projection(plan)])


def cache_note(plan: Plan, rows: list[Projection]) -> list[str]:
    """How many requests the response cache answers (they are not in 'requests' and cost nothing)."""
    hits = sum(r.from_cache for r in rows)
    if not hits:
        return []
    where = response_cache.cache_path(plan.options)
    return [f"response cache {where}: {hits:,} request{'s' if hits != 1 else ''} answered from it, not counted "
            "or priced above (--no-cache to price every request)"]


def cascade_projection(plan: Plan) -> list[str]:
    """With --escalate-to: the second model priced on the items the first model's confidences send it."""
    if plan.escalation is None:
        return []
    from dataclasses import replace

    from labnb.classify.cascade import escalated_items

    sent, known = escalated_items(plan)
    share = len(sent) / len(plan.items) if plan.items else 0.0
    second = project(plan.escalation, replace(plan, items=sent))
    how = ("the local model's confidences, computed now" if known
           else "an LLM's confidence is known only after its call: every item counted as escalated")
    return [f"cascade: {len(sent):,} of {len(plan.items):,} {plan.task.items_noun} ({share:.1%}) below "
            f"{plan.options.escalate_below} go to {plan.escalation.alias} ({how}): "
            f"{counted(second.requests, 'request')}, "
            f"{second.input_tokens:,} input tok, {second.output_tokens:,} output tok, "
            f"${second.cost_uncached:.6f} (with cache ${second.cost_cached:.6f})"]
