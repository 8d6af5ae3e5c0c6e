"""Records, token accounting and the markdown report of benchmarks/throughput.py."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODEL = "gpt4o_mini"
REFERENCE_CONCURRENCY = 16  # the level the wall-time target names; also the cache's first wave for costs


@dataclass
class Measure:
    """One subprocess: wall and CPU seconds, seconds inside its request loop, products answered."""

    wall: float
    cpu: float
    loop: float
    ok: int
    usage: dict[str, Any] = field(default_factory=dict)  # the CLI's token_usage.json (fake-reported counts)
    answer_tokens: int = 0  # tiktoken count of every answer the CLI received


@dataclass
class Fixed:
    """CPU and wall seconds every process pays whatever N is (best of a few one-product runs)."""

    import_openai_cpu: float
    cli_cpu: float
    cli_wall: float
    bare_cpu: float
    bare_wall: float
    spread: float  # the largest max - min CPU seconds between identical one-product runs: the noise floor
    bare_post_cpu: float = 0.0  # the bare loop sending with client.post (the CLI's call path)


@dataclass
class Row:
    batch: int
    concurrency: int
    ours: Measure
    bare: Measure  # chat.completions.create
    post: Measure | None = None  # client.post, run at the reference concurrency only


@dataclass
class Tokens:
    """Per batch size: tiktoken counts of what was sent and received, the fake's counts, and costs per 800."""

    batch: int
    requests: int
    prompt: int
    prefix: int
    completion: int
    fake_prompt: int
    fake_completion: int
    cost_uncached: float
    cost_cached: float
    fake_cost: float
    pricing: Any = None  # gpt4o_mini's Pricing, for costs at other concurrency levels (see ``cost_at``)


def best(runs: list[Measure]) -> Measure:
    """Best of repeated runs, field by field (noise on a shared 2-core machine only ever adds time)."""
    first = runs[0]
    return Measure(min(m.wall for m in runs), min(m.cpu for m in runs), min(m.loop for m in runs),
                   min(m.ok for m in runs), first.usage, first.answer_tokens)


def answer_tokens(folder: Path) -> int:
    """gpt-4o-mini tokens (tiktoken o200k) of every answer text in a run's calls.jsonl."""
    from labnb.config import load_models_config
    from labnb.cost import tokens

    entry = load_models_config(folder / "config" / "models.yaml").get(MODEL)
    total = 0
    for line in (folder / "outputs" / "calls.jsonl").read_text(encoding="utf-8").splitlines():
        body = json.loads(json.loads(line)["response"])
        total += tokens.count(entry, body["choices"][0]["message"]["content"])
    return total


def token_rows(work: Path, rows: list[Row], n: int) -> list[Tokens]:
    """One ``Tokens`` per batch size, from the dry-run projection and the run at the reference concurrency."""
    from assign_cat.products import load_products
    from assign_cat.task import AssignCat, AssignCatOptions
    from assign_cat.taxonomy import load_taxonomy
    from labnb.config import load_models_config
    from labnb.cost.usage import Usage, price
    from labnb.run.dryrun import OPENAI_MIN_CACHE_TOKENS, project
    from labnb.run.plan import Plan

    models = work / "models.yaml"
    entry = load_models_config(models).get(MODEL)
    taxonomy, products = load_taxonomy(work / "taxonomy.xml"), load_products(work / "products.csv")
    scale = 800 / n
    out = []
    for batch in sorted({r.batch for r in rows}):
        row = min((r for r in rows if r.batch == batch), key=lambda r: abs(r.concurrency - REFERENCE_CONCURRENCY))
        options = AssignCatOptions(batch_size=batch, concurrency=REFERENCE_CONCURRENCY,
                                   input=str(work / "products.csv"))
        p = project(entry, Plan(AssignCat(taxonomy), options, entry, models, products))
        waves = min(REFERENCE_CONCURRENCY, p.requests)
        cached = p.prefix_tokens * (p.requests - waves) if p.prefix_tokens >= OPENAI_MIN_CACHE_TOKENS else 0
        completion = row.ours.answer_tokens
        usage = row.ours.usage
        out.append(Tokens(
            batch, p.requests, p.input_tokens, p.prefix_tokens, completion,
            usage["total_prompt_tokens"], usage["total_completion_tokens"],
            price(Usage(p.input_tokens, completion), entry.pricing).total * scale,
            price(Usage(p.input_tokens, completion, cached), entry.pricing).total * scale,
            usage["cost_usd"] * scale, entry.pricing,
        ))
    return out


def cost_at(t: Tokens, concurrency: int, n: int) -> float:
    """Cost per 800 products at ``concurrency``: the prefix is read from cache after the first wave."""
    from labnb.cost.usage import Usage, price
    from labnb.run.dryrun import OPENAI_MIN_CACHE_TOKENS

    cached = t.prefix * (t.requests - min(concurrency, t.requests)) if t.prefix >= OPENAI_MIN_CACHE_TOKENS else 0
    return price(Usage(t.prompt, t.completion, cached), t.pricing).total * 800 / n


def ideal(n: int, batch: int, concurrency: int, latency: float) -> float:
    """The floor: every wave of ``concurrency`` requests takes exactly one latency."""
    return math.ceil(math.ceil(n / batch) / concurrency) * latency


def per_product_ms(cpu: float, fixed: float, n: int) -> float:
    return (cpu - fixed) / max(n - 1, 1) * 1000


def report(args: argparse.Namespace, rows: list[Row], fixed: Fixed, tokens: list[Tokens], profile: list[str],
           wire: str, machine: list[str], elapsed: float) -> str:
    n, latency = args.n, args.latency
    by_batch = {t.batch: t for t in tokens}
    lines = [
        "# Throughput, CPU and cost of the CLI against a bare AsyncOpenAI loop", "",
        f"Generated by `python benchmarks/throughput.py --n {n} --latency {latency} --runs {args.runs}` "
        f"({elapsed / 60:.1f} min). The fake API (tests/fakes/fakeapi.py, own process) answers every request after "
        f"{latency * 1000:.0f} ms. Products: {n} from {_source(args.products)}; taxonomy: "
        f"{args.taxonomy or 'benchmarks/data/taxonomy-20x133.xml'} (names only); model alias `{MODEL}` from a "
        "test models.yaml without rpm/tpm limits. Every run of every arm must answer all products (ours: all "
        "`ok` in run_summary.json) or the benchmark stops.", "",
        "The bare loop renders the CLI's request bodies (RequestBuilder + OpenAIClient.request_params) and sends "
        "them with `AsyncOpenAI.chat.completions.create` and the same number of workers, doing nothing else: the "
        "'bare SDK' baseline, what the obvious hand-written loop costs. It is not a strict lower bound: `create` "
        "walks and re-serializes every body (the SDK's request transform), which the CLI skips by sending the same "
        "dict with the SDK's low-level `client.post`. So at the reference concurrency a second bare loop sends "
        f"the bodies with `client.post`, the CLI's own call path (table 2). {wire}", "",
        "- wall: the whole process, start-up and (ours) run folder and finalization included; loop: inside the "
        "request loop only (ours: the run session's `duration_seconds`; bare: its own timer).",
        f"- ideal: ceil(requests / concurrency) x {latency * 1000:.0f} ms. Every figure is the best of {args.runs} "
        "runs (each arm, field by field)."
        + (" Batch size 1 at concurrency 1 is not run by default (N x latency per arm; `--serial-batch-1` adds it)."
           if {r.concurrency for r in rows if r.batch == 1} - {1} == {r.concurrency for r in rows if r.batch == 1}
           and any(r.batch == 1 for r in rows) else ""),
        "- CPU ms/product: (process CPU - CPU of a one-product run of the same program) / (N - 1), from "
        "getrusage(RUSAGE_CHILDREN) deltas (user + system, the CLI's git calls included). Fixed costs below.",
        "- $/800: gpt4o_mini, prompt tokens as `--dry-run` counts them, completion tokens of the answers received, "
        "the taxonomy prefix read from cache after the first wave of `concurrency` requests (see the tokens table).",
        "", "## Wall time and CPU", "",
        "| batch | concurrency | requests | ideal s | bare wall s | ours wall s | ours / bare | ours / ideal "
        "| bare loop s | ours loop s | loop ours / bare | bare CPU ms/product | ours CPU ms/product | $/800 | ok |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        floor = ideal(n, r.batch, r.concurrency, latency)
        bare_ms, ours_ms = per_product_ms(r.bare.cpu, fixed.bare_cpu, n), per_product_ms(r.ours.cpu, fixed.cli_cpu, n)
        cost = f"{cost_at(by_batch[r.batch], r.concurrency, n):.4f}" if r.batch in by_batch else "n/a"
        lines.append(
            f"| {r.batch} | {r.concurrency} | {math.ceil(n / r.batch)} | {floor:.2f} | {r.bare.wall:.2f} "
            f"| {r.ours.wall:.2f} | {r.ours.wall / r.bare.wall:.2f} | {r.ours.wall / floor:.2f} | {r.bare.loop:.2f} "
            f"| {r.ours.loop:.2f} | {r.ours.loop / r.bare.loop:.2f} "
            f"| {bare_ms:.2f} | {ours_ms:.2f} | {cost} | {r.ours.ok}/{n} |")
    lines += [
        "", f"## The CLI's own call path without the CLI (concurrency {REFERENCE_CONCURRENCY})", "",
        "Bare `create` vs bare `post` (same bodies, same workers) shows what the SDK's request transform costs; "
        "ours vs bare `post` is then the CLI's own overhead (run folder, records, checks, progress).", "",
        "| batch | bare create wall s | bare post wall s | ours wall s | ours / bare post | bare create loop s "
        "| bare post loop s | ours loop s | bare create CPU ms/product | bare post CPU ms/product "
        "| ours CPU ms/product |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in (r for r in rows if r.post):
        assert r.post is not None
        lines.append(
            f"| {r.batch} | {r.bare.wall:.2f} | {r.post.wall:.2f} | {r.ours.wall:.2f} "
            f"| {r.ours.wall / r.post.wall:.2f} "
            f"| {r.bare.loop:.2f} | {r.post.loop:.2f} | {r.ours.loop:.2f} "
            f"| {per_product_ms(r.bare.cpu, fixed.bare_cpu, n):.2f} "
            f"| {per_product_ms(r.post.cpu, fixed.bare_post_cpu, n):.2f} "
            f"| {per_product_ms(r.ours.cpu, fixed.cli_cpu, n):.2f} |")
    lines += [
        "", "Fixed costs (best of one-product runs): "
        f"`python -c \"import openai\"` {fixed.import_openai_cpu:.2f} s CPU; bare loop process {fixed.bare_cpu:.2f} s "
        f"CPU ({fixed.bare_post_cpu:.2f} s with `post`), {fixed.bare_wall:.2f} s wall; "
        f"CLI process {fixed.cli_cpu:.2f} s CPU, {fixed.cli_wall:.2f} s wall "
        "(imports, config and taxonomy validation, run folder snapshot, git provenance, finalization). "
        f"Identical one-product runs differed by up to {fixed.spread:.2f} s CPU, so per-product CPU figures carry "
        f"about ±{fixed.spread / max(n - 1, 1) * 1000:.2f} ms of noise (negative values are noise around zero).",
        "", f"## Tokens and cost per {n} products (cost scaled to 800)", "",
        "Prompt tokens: tiktoken o200k on the exact requests (`labnb.run.dryrun.project`); completion tokens: "
        "tiktoken on the answers the fake returned (one compact JSON item per product, as a model writes them). "
        "'fake' columns: what the fake reported (characters / 4). "
        f"'cached': OpenAI prompt caching after the first wave of {REFERENCE_CONCURRENCY} requests "
        "(prefixes of 1,024+ tokens). Prices: config/models.yaml gpt4o_mini (input 0.15, cached 0.075, "
        "output 0.60 USD per 1M).", "",
        "| batch | requests | prefix tok/request | prompt tok/product | completion tok/product | fake prompt/product "
        "| fake completion/product | $/800 uncached | $/800 cached | fake-reported $/800 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in tokens:
        lines.append(f"| {t.batch} | {t.requests} | {t.prefix:,} | {t.prompt / n:,.1f} | {t.completion / n:.1f} "
                     f"| {t.fake_prompt / n:,.1f} | {t.fake_completion / n:.1f} | {t.cost_uncached:.4f} "
                     f"| {t.cost_cached:.4f} | {t.fake_cost:.4f} |")
    lines += ["", "## Against the targets", "", *targets(rows, fixed, tokens, n), ""]
    if profile:
        lines += [f"## Where the CPU goes (batch size 1, concurrency {REFERENCE_CONCURRENCY}, cProfile)", "",
                  "Own time of every profiled function summed by package, per product; cProfile inflates these "
                  "times about threefold, so compare the columns rather than reading them as absolute costs. "
                  "'bare' is the `create` loop. "
                  "Start-up (imports) is included.", "", *profile, ""]
    lines += ["## Machine", "", *machine, ""]
    return "\n".join(lines)


def targets(rows: list[Row], fixed: Fixed, tokens: list[Tokens], n: int) -> list[str]:
    """One bullet per target of the issue, with the measured figure (reported, not asserted)."""
    out = []
    at16 = [r for r in rows if r.concurrency == REFERENCE_CONCURRENCY]
    for r in at16:
        wall, loop = r.ours.wall / r.bare.wall, r.ours.loop / r.bare.loop
        text = (f"- wall within 1.2x of the bare loop at concurrency 16, batch {r.batch}: vs bare `create` process "
                f"{wall:.2f}x, loop {loop:.2f}x: {_verdict(wall <= 1.2)} (process), {_verdict(loop <= 1.2)} (loop)")
        if r.post:
            wall, loop = r.ours.wall / r.post.wall, r.ours.loop / r.post.loop
            text += (f"; vs bare `post` process {wall:.2f}x, loop {loop:.2f}x: {_verdict(wall <= 1.2)} (process), "
                     f"{_verdict(loop <= 1.2)} (loop)")
        out.append(text)
    for r in (r for r in rows if r.batch == 1):
        cpu = per_product_ms(r.ours.cpu, fixed.cli_cpu, n)
        out.append(f"- CPU under 5 ms/product at batch size 1, concurrency {r.concurrency}: {cpu:.2f} ms: "
                   f"{_verdict(cpu < 5)}")
    one = next((t for t in tokens if t.batch == 1), None)
    best = min(tokens, key=lambda t: t.cost_cached) if tokens else None
    if one and best:
        out.append(f"- best batch size ({best.batch}) at most 1/5 of batch size 1's cost: "
                   f"${best.cost_cached:.4f} vs ${one.cost_cached:.4f} cached "
                   f"({one.cost_cached / best.cost_cached:.1f}x), "
                   f"${best.cost_uncached:.4f} vs ${one.cost_uncached:.4f} uncached "
                   f"({one.cost_uncached / best.cost_uncached:.1f}x): "
                   f"{_verdict(best.cost_cached * 5 <= one.cost_cached)}")
    if best:
        default = cost_at(best, 8, n)
        out.append(f"- under $0.01 per 800 products at the best batch size measured ({best.batch}): "
                   f"${best.cost_cached:.4f} cached (first wave {REFERENCE_CONCURRENCY}), ${default:.4f} cached "
                   f"(first wave 8, the CLI's default concurrency), ${best.cost_uncached:.4f} uncached: "
                   f"{_verdict(best.cost_cached < 0.01)} / {_verdict(default < 0.01)} / "
                   f"{_verdict(best.cost_uncached < 0.01)} (all batch sizes: benchmarks/batch_tokens.md)")
    return out


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _source(source: str) -> str:
    if source == "sports":
        return "../shared/data/products/sports-supplements.tsv (title, brand)"
    return "data/sample_products.csv repeated with variant suffixes (title, brand, description)"
