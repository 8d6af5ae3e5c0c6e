"""Inputs and machine facts shared by benchmarks/throughput.py and benchmarks/batch_tokens.py."""

from __future__ import annotations

import csv
import datetime as dt
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPORTS = ROOT.parent / "shared" / "data" / "products" / "sports-supplements.tsv"
SAMPLE = ROOT / "data" / "sample_products.csv"
SHIPPED_TAXONOMY = ROOT / "config" / "taxonomy.xml"
NAMES_TAXONOMY = ROOT / "benchmarks" / "data" / "taxonomy-20x133.xml"
PACKAGES = ("openai", "httpx2", "pydantic", "tiktoken", "quicktok-v1", "lxml", "pyyaml", "tqdm")
# Suffixes that keep repeated products distinct (a real catalogue has variants of one product).
VARIANTS = ("", "30 Servings", "Chocolate", "2 lb", "Vanilla", "60 Capsules", "Unflavored", "Value Size",
            "Berry Blast", "120 Tablets", "5 lb", "Travel Pack")


def base_rows(source: str) -> list[dict[str, str]]:
    """Product rows without gold labels: ``sports`` (title, brand) or ``sample`` (title, brand, description)."""
    if source == "sports":
        with SPORTS.open(encoding="utf-8", newline="") as handle:
            return [{"title": r["title"], "brand": r["brand"]} for r in csv.DictReader(handle, delimiter="\t")]
    with SAMPLE.open(encoding="utf-8", newline="") as handle:
        return [{"title": r["title"], "brand": r["brand"], "description": r["description"]}
                for r in csv.DictReader(handle)]


def default_source() -> str:
    """The real sports-supplement catalogue when ../shared is present, else the shipped sample."""
    return "sports" if SPORTS.exists() else "sample"


def product_rows(n: int, source: str) -> list[dict[str, str]]:
    """``n`` products with ids; rows repeat with a variant suffix once the source runs out."""
    rows = base_rows(source)
    out = []
    for i in range(n):
        row = dict(rows[i % len(rows)])
        variant = VARIANTS[(i // len(rows)) % len(VARIANTS)]
        if variant:
            row["title"] = f"{row['title']}, {variant}"
        out.append({"product_id": f"b{i + 1:05d}", **row})
    return out


def write_products(path: Path, n: int, source: str) -> Path:
    """A products CSV the CLI reads with ``--input``."""
    rows = product_rows(n, source)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def names_taxonomy() -> Path:
    """The committed 20x133 names-only taxonomy (rebuilt from the Google file if it is missing)."""
    if not NAMES_TAXONOMY.exists():
        sys.path.insert(0, str(Path(__file__).parent))
        from make_taxonomy import build

        build()
    return NAMES_TAXONOMY


def machine_facts() -> list[str]:
    """Markdown bullet lines: date, cores, Python, platform and package versions."""
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    sys.path.insert(0, str(ROOT / "src"))
    from labnb.store.provenance import git_info

    git = git_info(ROOT) or {}
    return [
        f"- code: commit {git.get('commit', 'unknown')[:12]}{' with uncommitted changes' if git.get('dirty') else ''}",
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {os.cpu_count()} cores, {platform.machine()}, {platform.platform()}",
        f"- Python {sys.version.split()[0]} ({platform.python_implementation()})",
        f"- packages: {', '.join(versions)}",
    ]
