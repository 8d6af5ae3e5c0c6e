"""Accuracy of the local embedding model: naive nearest-name matching vs the shipped design.

Data sets: data/sample_products.csv with config/taxonomy.xml, and ../shared/data/products/
sports-supplements.tsv with a taxonomy built from its label names alone (in a temp dir).
Writes benchmarks/local_accuracy_results.md.  Run: python benchmarks/local_accuracy.py
"""

from __future__ import annotations

import csv
import re
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from assign_cat.products import Product, load_products  # noqa: E402
from assign_cat.task import AssignCat  # noqa: E402
from assign_cat.taxonomy import Taxonomy, load_taxonomy  # noqa: E402
from labnb.classify.similarity import NAIVE, Design, choice_index, score_items  # noqa: E402
from labnb.local.embedder import Embedder, load_embedder  # noqa: E402

SPORTS = ROOT.parent / "shared" / "data" / "products" / "sports-supplements.tsv"
RESULTS = ROOT / "benchmarks" / "local_accuracy_results.md"

SHIPPED = Design()
# Each row changes one thing; "naive" is names only, titles only, nearest subcategory.
DESIGNS: list[tuple[str, Design]] = [
    ("naive: title vs subcategory name", NAIVE),
    ("naive + full product text", replace(NAIVE, item_views=("title", "full"))),
    ("naive + subcategory views (name with parent, description) + centering",
     replace(NAIVE, choice_views=SHIPPED.choice_views, center=True)),
    ("shipped minus example views", replace(SHIPPED, example_view="")),
    ("shipped with bare example views", replace(SHIPPED, example_view="{example}")),
    ("shipped minus lexical score", replace(SHIPPED, lexical_weight=0.0)),
    ("shipped minus centering", replace(SHIPPED, center=False)),
    ("shipped minus category score", replace(SHIPPED, group_weight=0.0)),
    ("shipped with category weight 0.5", replace(SHIPPED, group_weight=0.5)),
    ("shipped with lexical weight 0.05", replace(SHIPPED, lexical_weight=0.05)),
    ("shipped with lexical weight 0.2", replace(SHIPPED, lexical_weight=0.2)),
    ("shipped minus description views", replace(SHIPPED, choice_views=SHIPPED.choice_views[:1],
                                                group_views=SHIPPED.group_views[:1])),
    ("shipped, title view only", replace(SHIPPED, item_views=("title",))),
    ("shipped (the local model)", SHIPPED),
]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64]


def sports_dataset(folder: Path) -> tuple[Taxonomy, list[Product]]:
    """The TSV as products (title + brand, labels as gold) and a taxonomy of its label names only."""
    with SPORTS.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    tree: dict[str, list[str]] = {}
    for row in rows:
        subs = tree.setdefault(row["category"], [])
        if row["subcategory"] not in subs:
            subs.append(row["subcategory"])
    lines = ['<taxonomy name="sports-supplements" version="labels-only">']
    for cat, subs in tree.items():
        lines.append(f"  <category id={quoteattr(slug(cat))} name={quoteattr(cat)}>")
        lines.extend(f"    <subcategory id={quoteattr(slug(s))} name={quoteattr(s)}/>" for s in subs)
        lines.append("  </category>")
    lines.append("</taxonomy>")
    (folder / "taxonomy.xml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Only title and brand go in: the label columns (source_category too) would leak the answer.
    with (folder / "products.tsv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["title", "brand", "expected_category", "expected_subcategory"])
        for row in rows:
            writer.writerow([row["title"], row["brand"], slug(row["category"]), slug(row["subcategory"])])
    return load_taxonomy(folder / "taxonomy.xml"), load_products(folder / "products.tsv")


def cache_encodings(embedder: Embedder) -> None:
    """Memoize ``encode`` per text: every design row re-encodes the same product texts."""
    import numpy as np

    encode, memo = embedder.encode, {}

    def cached(texts: list[str]) -> Any:
        new = [t for t in dict.fromkeys(texts) if t not in memo]
        if new:
            memo.update(zip(new, encode(new)))
        return np.stack([memo[t] for t in texts]) if texts else encode(texts)

    embedder.encode = cached  # type: ignore[method-assign]


def accuracy(taxonomy: Taxonomy, products: list[Product], design: Design) -> tuple[float, float]:
    """(category accuracy, pair accuracy) of ``design`` on ``products``."""
    embedder = load_embedder()
    task = AssignCat(taxonomy)
    choices = {choice.id: choice for choice in task.choices().values()}
    index = choice_index(embedder, list(choices.values()), design)
    probs, _ = score_items(embedder, index, design, products)
    picks = [index.choices[int(i)] for i in probs.argmax(axis=1)]
    golds = [choices[task.gold_choice(p)] for p in products]
    cat = sum(pick.group == gold.group for pick, gold in zip(picks, golds)) / len(products)
    pair = sum(pick.id == gold.id for pick, gold in zip(picks, golds))
    return cat, pair / len(products)


def nearest_neighbour(products: list[Product]) -> float:
    """Pair accuracy of leave-one-out 1-nearest-neighbour on titles: a supervised reference, not zero-shot."""
    vectors = load_embedder().encode([p.title for p in products])
    similarity = vectors @ vectors.T
    similarity[range(len(products)), range(len(products))] = -2.0
    gold = [(p.expected_category, p.expected_subcategory) for p in products]
    return sum(gold[i] == gold[int(j)] for i, j in enumerate(similarity.argmax(axis=1))) / len(products)


def main() -> None:
    sets: list[tuple[str, Taxonomy, list[Product]]] = []
    sample_tax, sample = ROOT / "config" / "taxonomy.xml", ROOT / "data" / "sample_products.csv"
    products = [p for p in load_products(sample) if p.has_gold]
    sets.append((f"sample_products.csv ({len(products)}, taxonomy.xml with descriptions)",
                 load_taxonomy(sample_tax), products))
    with tempfile.TemporaryDirectory() as tmp:
        if SPORTS.is_file():
            taxonomy, products = sports_dataset(Path(tmp))
            sets.append((f"sports-supplements.tsv ({len(products)}, label names only)", taxonomy, products))
        else:
            print(f"skipping the sports set: {SPORTS} not found", file=sys.stderr)
    started = time.perf_counter()
    cache_encodings(load_embedder())
    table = ["| design | " + " | ".join(f"{name}: category / pair" for name, _, _ in sets) + " |",
             "|---|" + "---|" * len(sets)]
    for label, design in DESIGNS:
        cells = []
        for _, taxonomy, products in sets:
            cat, pair = accuracy(taxonomy, products, design)
            cells.append(f"{cat:.1%} / {pair:.1%}")
        table.append(f"| {label} | " + " | ".join(cells) + " |")
        print(table[-1], flush=True)
    table.append("| reference, not zero-shot: leave-one-out 1-NN on labelled titles | "
                 + " | ".join(f"– / {nearest_neighbour(products):.1%}" for _, _, products in sets) + " |")
    print(table[-1], flush=True)
    provenance = load_embedder().provenance()
    text = "\n".join([
        "# Local model accuracy",
        "",
        "Generated by `python benchmarks/local_accuracy.py`. Model: "
        f"{provenance['model_name']} from {provenance['model_package']} {provenance['model_package_version']} "
        f"(weights sha256 {provenance['weights_sha256'][:12]}…). Accuracy = share of products whose predicted "
        "category (resp. category + subcategory pair) equals the gold label. The sports taxonomy is built from "
        "the file's label names alone (no descriptions); its products carry title and brand only.",
        "",
        *table,
        "",
        f"Shipped design: `{SHIPPED.to_dict()}`",
        "",
        "Notes: the sample set was written together with config/taxonomy.xml, whose descriptions list the "
        "ingredients its titles use, so it flatters description-based views; the sports set is real retail data "
        "with retailer-specific labels (e.g. glutamine under Post-Workout Recovery, whey under Low Carb Protein) "
        "and many brand-only titles. The 1-NN row uses the gold labels of all other products (supervised), "
        "as a rough ceiling for this model's title embeddings; it means nothing on the sample set, which has "
        "one or two products per subcategory.",
        "",
        f"Scoring time for all rows: {time.perf_counter() - started:.1f} s.",
        "",
    ])
    RESULTS.write_text(text + encoder_comparison() + kept_section(), encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


KEPT = "## Before: the design table with the torch encoder"


def kept_section() -> str:
    """The torch encoder's design table from the results file as it was (this benchmark runs one encoder)."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.is_file() else ""
    if KEPT not in text:
        return ""
    return "\n" + KEPT + text.split(KEPT, 1)[1].split("\n## ")[0].rstrip("\n") + "\n"


def encoder_comparison() -> str:
    """The torch-vs-ONNX accuracy section of local_encoders_results.md (that benchmark needs both trees)."""
    source = ROOT / "benchmarks" / "local_encoders_results.md"
    text = source.read_text(encoding="utf-8") if source.is_file() else ""
    if "## Same answers" not in text:
        return ""
    section = text[text.index("## Same answers"):].split("\n## ")[0]
    return (f"\n## The encoder before (torch) and now (ONNX int8)\n\nFrom `{source.relative_to(ROOT)}` "
            "(`python benchmarks/local_encoders.py`); the items whose zero-shot answer differs are listed in "
            "`benchmarks/encoder_flips_results.md` (`python benchmarks/encoder_flips.py`):\n\n"
            + section.split("\n", 1)[1].lstrip("\n"))


if __name__ == "__main__":
    main()
