"""Speed of the local model: load time, products per second and peak memory for 1,000 and 10,000 products.

Products are the titles of ../shared/data/products/sports-supplements.tsv, repeated with a varied
suffix so no two texts are equal (the classifier encodes each distinct text once). Each size runs
in a fresh process, so load time and peak memory are those of a real run.
Writes benchmarks/local_model_results.md.  Run: python benchmarks/local_model.py
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SPORTS = ROOT.parent / "shared" / "data" / "products" / "sports-supplements.tsv"
RESULTS = ROOT / "benchmarks" / "local_model_results.md"
SIZES = (1_000, 10_000)
VARIANTS = ("", "30 Servings", "Chocolate", "2 lb", "Vanilla", "60 Capsules", "Unflavored", "Value Size",
            "Berry Blast", "120 Tablets", "5 lb", "Travel Pack")


def make_products(count: int, with_brand: bool) -> list:
    from assign_cat.products import Product

    with SPORTS.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    products = []
    for i in range(count):
        row, variant = rows[i % len(rows)], VARIANTS[(i // len(rows)) % len(VARIANTS)]
        title = f"{row['title']} {variant}".strip() if i < len(rows) * len(VARIANTS) else f"{row['title']} #{i}"
        extra = {"brand": row["brand"]} if with_brand else {}
        products.append(Product(product_id=f"b{i:05d}", title=title, extra=extra))
    return products


def worker(count: int, with_brand: bool) -> dict:
    """One measurement in this process: load, index, classify ``count`` products."""
    from assign_cat.task import AssignCat
    from labnb.classify.local import EmbeddingClassifier
    from labnb.config import ModelEntry, Pricing
    from labnb.local.embedder import load_embedder

    products = make_products(count, with_brand)
    clock = time.perf_counter()
    embedder = load_embedder()
    load = time.perf_counter() - clock
    entry = ModelEntry(alias="local", provider="local", model="all-MiniLM-L6-v2", pricing=Pricing())
    classifier = EmbeddingClassifier(entry, AssignCat(ROOT / "config" / "taxonomy.xml"), embedder=embedder)
    clock = time.perf_counter()
    classifier.index()
    index_seconds = time.perf_counter() - clock
    size = classifier.batch_size(10)

    async def run() -> int:
        tokens = 0
        for start in range(0, len(products), size):
            outcome = await classifier.classify(products[start:start + size])
            tokens += sum(c.usage.input_tokens for c in outcome.calls)
        return tokens

    clock, cpu = time.perf_counter(), _cpu_seconds()
    tokens = asyncio.run(run())
    seconds, cpu = time.perf_counter() - clock, _cpu_seconds() - cpu
    return {
        "count": count, "with_brand": with_brand, "load_s": load, "index_s": index_seconds,
        "classify_s": seconds, "per_second": count / seconds, "tokens": tokens, "cpu_s": cpu,
        "per_cpu_second": count / cpu,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "workers": embedder.provenance()["encode_workers"],
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(count: int, with_brand: bool) -> dict:
    args = [sys.executable, __file__, "--worker", str(count)] + (["--brand"] if with_brand else [])
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if not SPORTS.is_file():
        sys.exit(f"{SPORTS} not found: this benchmark needs the shared product set")
    load_before = os.getloadavg()[0]
    wall = time.perf_counter()
    rows = []
    for with_brand in (False, True):
        for count in SIZES:
            result = measure(count, with_brand)
            rows.append(result)
            print(f"{count:>6} products {'title+brand' if with_brand else 'title only':<11} "
                  f"{result['per_second']:7.0f}/s  load {result['load_s']:.2f} s  "
                  f"peak {result['peak_rss_mb']:.0f} MB", flush=True)
    table = ["| products | text | products/s (wall) | products per CPU-second | classify s | model load s "
             "| taxonomy index s | input tokens | peak RSS MB |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        table.append(
            f"| {r['count']:,} | {'title + brand' if r['with_brand'] else 'title'} | {r['per_second']:.0f} "
            f"| {r['per_cpu_second']:.0f} | {r['classify_s']:.2f} | {r['load_s']:.2f} | {r['index_s']:.2f} "
            f"| {r['tokens']:,} | {r['peak_rss_mb']:.0f} |"
        )
    text = "\n".join([
        "# Local model speed",
        "",
        "Generated by `python benchmarks/local_model.py`: each row is a fresh process that loads the model "
        "(imports of torch, tokenizers and safetensors included), embeds the taxonomy, then classifies the products "
        "in batches of 256 through `EmbeddingClassifier.classify` (encoding, scoring, token counting). "
        "Model load and taxonomy embedding happen once per run and are not in products/s. "
        "Products: sports-supplements titles repeated with varied suffixes, all distinct. "
        "\"title + brand\" products are encoded twice (title view and full view).",
        "",
        f"Machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python "
        f"{platform.python_version()}, {rows[0]['workers']} encode worker threads (torch single-threaded each); "
        f"1-minute load average before the "
        f"runs {load_before:.2f}, after {os.getloadavg()[0]:.2f} (other processes share these cores; "
        f"the benchmark took {time.perf_counter() - wall:.0f} s). Products per CPU-second counts the "
        "process's own CPU time (all threads), so it does not depend on what else runs.",
        "",
        *table,
        "",
    ])
    RESULTS.write_text(text, encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--brand", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        print(json.dumps(worker(options.worker, options.brand)))
    else:
        main()
