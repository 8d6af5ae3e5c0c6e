"""Prompt and completion tokens per product, and cost per 800 products, by batch size; counted offline.

Uses the dry run's own projection (labnb.run.dryrun.project) on the exact rendered requests: tiktoken o200k
counts for gpt-4o-mini (exact), o200k x 1.15 for Claude Haiku (an estimate). Taxonomies: the shipped
config/taxonomy.xml (with descriptions) and benchmarks/data/taxonomy-20x133.xml (names only). Also compares the
shipped numbered answer format with the previous id format (benchmarks/format_whatif.py).
Writes benchmarks/batch_tokens.md.  Run: python benchmarks/batch_tokens.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from assign_cat.products import load_products  # noqa: E402
from assign_cat.task import AssignCat, AssignCatOptions  # noqa: E402
from assign_cat.taxonomy import load_taxonomy  # noqa: E402
from bench_inputs import SHIPPED_TAXONOMY, default_source, machine_facts, names_taxonomy, write_products  # noqa: E402
from format_whatif import (  # noqa: E402
    POSITIONAL,
    POSITIONAL_SHAPE,
    PREVIOUS,
    PREVIOUS_SHAPE,
    SHIPPED,
    check_shipped,
    formats,
    project_format,
)
from labnb.config import load_models_config  # noqa: E402
from labnb.run.dryrun import Projection, project  # noqa: E402
from labnb.run.plan import Plan  # noqa: E402

OUT = ROOT / "benchmarks" / "batch_tokens.md"
MODELS = ROOT / "config" / "models.yaml"
BATCH_SIZES = (1, 5, 10, 20, 50)
COMPARE_SIZES = (1, 20, 50)
N = 800
CONCURRENCY = 8  # the CLI default: the first wave of 8 requests writes the cache, the rest read it


def projections(taxonomy_path: Path, products_path: Path, batch_size: int) -> dict[str, Projection]:
    """The dry-run projection of gpt4o_mini and haiku for one taxonomy and batch size."""
    config = load_models_config(MODELS)
    options = AssignCatOptions(batch_size=batch_size, concurrency=CONCURRENCY, input=str(products_path),
                               taxonomy=str(taxonomy_path), models_config=str(MODELS))
    plan = Plan(AssignCat(taxonomy_path), options, config.get("gpt4o_mini"), MODELS, load_products(products_path))
    return {alias: project(config.get(alias), plan) for alias in ("gpt4o_mini", "haiku")}


def table(taxonomy_path: Path, products_path: Path, n: int) -> tuple[list[str], dict[int, dict[str, Projection]]]:
    """Markdown rows for one taxonomy (costs scaled to 800 products) and the raw projections."""
    rows = ["| batch size | requests | prompt tok/product | completion tok/product | prefix tok/request "
            "| gpt4o_mini $/800 | gpt4o_mini cached $/800 | haiku $/800 (est.) | haiku cached $/800 (est.) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    raw = {}
    scale = 800 / n
    for size in BATCH_SIZES:
        p = projections(taxonomy_path, products_path, size)
        raw[size] = p
        mini, haiku = p["gpt4o_mini"], p["haiku"]
        rows.append(f"| {size} | {mini.requests} | {mini.input_tokens / n:,.1f} | {mini.output_tokens / n:,.1f} "
                    f"| {mini.prefix_tokens:,} | {mini.cost_uncached * scale:.4f} | {mini.cost_cached * scale:.4f} "
                    f"| {haiku.cost_uncached * scale:.4f} | {haiku.cost_cached * scale:.4f} |")
    return rows, raw


def summary(name: str, raw: dict[int, dict[str, Projection]]) -> str:
    """One sentence: the cheapest batch size against batch size 1 (gpt4o_mini, cached)."""
    one = raw[1]["gpt4o_mini"].cost_cached
    best = min(raw, key=lambda s: raw[s]["gpt4o_mini"].cost_cached)
    cost = raw[best]["gpt4o_mini"].cost_cached
    return (f"{name}: cheapest at batch size {best}, ${cost * 800 / N:.4f} per 800 products with caching, "
            f"{one / cost:.1f}x cheaper than batch size 1 (${one * 800 / N:.4f}).")


def compare(taxonomy_path: Path, products_path: Path, raw: dict[int, dict[str, Projection]]) -> tuple[
        list[str], dict[tuple[str, int], Projection]]:
    """Markdown rows: the shipped format against the previous one (and the positional idea), gpt4o_mini and haiku."""
    config = load_models_config(MODELS)
    taxonomy, products = load_taxonomy(taxonomy_path), load_products(products_path)
    rows = ["| format | batch size | prefix tok/request | prompt tok/product | completion tok/product "
            "| gpt4o_mini $/800 | gpt4o_mini cached $/800 | haiku cached $/800 (est.) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    out: dict[tuple[str, int], Projection] = {}
    per_model = {alias: formats(config.get(alias), taxonomy) for alias in ("gpt4o_mini", "haiku")}
    for size in COMPARE_SIZES:
        for i, fmt in enumerate(per_model["gpt4o_mini"]):
            mini, haiku = (project_format(config.get(alias), per_model[alias][i], products, size, CONCURRENCY)
                           for alias in ("gpt4o_mini", "haiku"))
            if fmt.name == SHIPPED:
                check_shipped(mini, raw[size]["gpt4o_mini"])
                check_shipped(haiku, raw[size]["haiku"])
            out[(fmt.name, size)] = mini
            rows.append(f"| {fmt.name} | {size} | {mini.prefix_tokens:,} | {mini.input_tokens / N:,.1f} "
                        f"| {mini.output_tokens / N:.1f} | {mini.cost_uncached * 800 / N:.4f} "
                        f"| {mini.cost_cached * 800 / N:.4f} | {haiku.cost_cached * 800 / N:.4f} |")
    return rows, out


def saving(name: str, out: dict[tuple[str, int], Projection]) -> str:
    """One sentence: what the numbered format saves against the previous id format (gpt4o_mini)."""
    parts = []
    for size in COMPARE_SIZES:
        new, old = out[(SHIPPED, size)], out[(PREVIOUS, size)]
        cut = {key: 1 - getattr(new, key) / getattr(old, key)
               for key in ("input_tokens", "output_tokens", "cost_uncached", "cost_cached")}
        parts.append(f"batch size {size}: prompt -{cut['input_tokens']:.0%}, completion -{cut['output_tokens']:.0%}, "
                     f"cost -{cut['cost_uncached']:.0%} uncached / -{cut['cost_cached']:.0%} cached")
    return f"{name}: numbered format vs previous ids: " + "; ".join(parts) + "."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", choices=("sports", "sample"), default=default_source(),
                        help="sports: ../shared/.../sports-supplements.tsv; sample: data/sample_products.csv")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    clock = time.perf_counter()
    taxonomies = [(SHIPPED_TAXONOMY, "with descriptions"), (names_taxonomy(), "names only")]
    lines = ["# Tokens and cost by batch size (offline counts)", "",
             f"{N} products from {_source_text(args.products)}; every request rendered exactly as the CLI sends it "
             "and counted with `labnb.run.dryrun.project` (what `--dry-run` prints).",
             "Prompt tokens include the system prompt (instructions + taxonomy), the answer schema and the chat "
             "framing; completion tokens are projected as one compact JSON item per product plus 3 per request.",
             "gpt4o_mini: tiktoken o200k, exact. haiku: o200k x 1.15, an estimate (Claude's tokenizer is not public).",
             f"'cached': the taxonomy prefix is read from the provider's cache after the first wave of {CONCURRENCY} "
             "requests (OpenAI caches prefixes of 1,024+ tokens only; Anthropic cache writes cost 1.25x).",
             f"Prices from config/models.yaml (USD per 1M tokens): {_prices('gpt4o_mini')}; {_prices('haiku')}.", ""]
    sentences = []
    with tempfile.TemporaryDirectory() as tmp:
        products = write_products(Path(tmp) / "products.csv", N, args.products)
        comparisons = []
        for path, kind in taxonomies:
            taxonomy = load_taxonomy(path)
            name = f"{path.relative_to(ROOT)} ({len(taxonomy.categories)}x{len(taxonomy.pairs)}, {kind})"
            rows, raw = table(path, products, N)
            lines += [f"## {name}", "", *rows, ""]
            sentences.append(summary(name, raw))
            compared, out = compare(path, products, raw)
            comparisons += [f"### {name}", "", *compared, ""]
            sentences.append(saving(name, out))
        lines += ["## The numbered answer format against the previous id format", "",
                  f"'{SHIPPED}': what the CLI sends now (the rows equal the tables above; the script checks it). "
                  f"'{PREVIOUS}': the format it replaced: `cat-id: Name` / `  sub-id: Name` taxonomy lines, string "
                  f"enums of category and subcategory ids, answers `{PREVIOUS_SHAPE}` (its rows match, token for "
                  "token, what this file reported on 2026-11-28 while the CLI still used it). "
                  f"'{POSITIONAL}': an idea, not in the CLI: the shipped prompt, but answers list one subcategory "
                  f"number per product in order, `{POSITIONAL_SHAPE}`; it cuts output tokens, but a skipped or "
                  "duplicated product would shift every later label without any way to notice. All three are "
                  "counted with the dry run's formula (benchmarks/format_whatif.py).", "", *comparisons]
    lines += ["## Summary", "", *[f"- {s}" for s in sentences], "", "## Machine", "", *machine_facts(),
              f"- counting took {time.perf_counter() - clock:.1f} s", ""]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


def _prices(alias: str) -> str:
    p = load_models_config(MODELS).get(alias).pricing
    return (f"{alias} input {p.input:.3g}, cache read {p.cached_input:.3g}, cache write {p.cache_write:.3g}, "
            f"output {p.output:.3g} (as of {p.prices_as_of})")


def _source_text(source: str) -> str:
    if source == "sports":
        return "../shared/data/products/sports-supplements.tsv (title and brand of real products)"
    return "data/sample_products.csv repeated with variant suffixes (title, brand, description)"


if __name__ == "__main__":
    main()
