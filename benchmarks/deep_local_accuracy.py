"""The local model, zero-shot, on a labelled deep sample: the 986 sports-supplement products with their
24 retailer categories mapped by hand onto Google's taxonomy (benchmarks/data/sports-supplements-google.yaml).

Run: python benchmarks/deep_local_accuracy.py  ->  benchmarks/deep_local_accuracy_results.md
The products stay in ../shared; a temporary copy with the gold column goes to a temporary folder.
"""

from __future__ import annotations

import csv
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from assign_cat.candidates import CandidateFinder, file_sha256  # noqa: E402
from assign_cat.cli import main as run_cli  # noqa: E402
from assign_cat.deep_metrics import retrieval_recall, scored_rows  # noqa: E402
from assign_cat.products import load_products  # noqa: E402
from assign_cat.taxonomy import load_deep  # noqa: E402
from labnb.local.embedder import load_embedder  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from taxonomy_scale import load_average  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
GOOGLE = SHARED / "taxonomies" / "google-product-taxonomy-2021-09-21.txt"
PRODUCTS = SHARED / "products" / "sports-supplements.tsv"
MAPPING = ROOT / "benchmarks" / "data" / "sports-supplements-google.yaml"
OUT = Path(__file__).with_name("deep_local_accuracy_results.md")
FITNESS = "Health & Beauty > Health Care > Fitness & Nutrition"
VARIANTS = [("whole taxonomy (5,595 nodes)", []), ("`--leaves-only` (4,719 leaves)", ["--leaves-only"]),
            (f'`--taxonomy-root "{FITNESS}"` (6 nodes)', ["--taxonomy-root", FITNESS])]
SEED = 0


def labelled_sample(folder: Path) -> Path:
    """The products with ``expected_subcategory`` = their retailer category's Google node id."""
    mapping = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))["mapping"]
    with PRODUCTS.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return write_sample(folder / "sports-google.csv", [
        [f"sp{n:04d}", row["title"], row["brand"], mapping[row["source_category"]]] for n, row in enumerate(rows, 1)])


def write_sample(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["product_id", "title", "brand", "expected_subcategory"])
        writer.writerows(rows)
    return path


def split(products: Path, folder: Path) -> tuple[Path, Path]:
    """A seeded half of the products as examples, the other half to score (ids are distinct: no overlap)."""
    with products.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    random.Random(SEED).shuffle(rows)
    half = len(rows) // 2
    return write_sample(folder / "examples.csv", rows[:half]), write_sample(folder / "held-out.csv", rows[half:])


def run(products: Path, runs: Path, extra: list[str]) -> Path:
    before = set(runs.iterdir()) if runs.exists() else set()
    code = run_cli(["--model", "local", "--input", str(products), "--taxonomy", str(GOOGLE), "--runs-dir", str(runs),
                    *extra])
    if code not in (0, 1):
        raise SystemExit(f"the run failed with exit code {code}")
    (folder,) = set(runs.iterdir()) - before
    return folder


def main() -> int:
    if not (GOOGLE.is_file() and PRODUCTS.is_file()):
        print(f"needs {SHARED} (the shared data)", file=sys.stderr)
        return 2
    tax = load_deep(GOOGLE)
    with tempfile.TemporaryDirectory() as tmp:
        products = labelled_sample(Path(tmp))
        items = load_products(products)
        gold = Counter(p.expected_subcategory for p in items)
        lines = _results(tax, products, items, Path(tmp) / "runs")
        lines += _learned(tax, *split(products, Path(tmp)), Path(tmp) / "runs")
    spread = ", ".join(f"{n} on {node} {tax.node(node).name}" for node, n in gold.most_common())
    lines[2] = lines[2].replace("{spread}", spread).replace("{count}", str(len(items)))
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(OUT.read_text())
    return 0


def _results(tax, products: Path, items, runs: Path) -> list[str]:
    lines = ["# The local model on Google's taxonomy", "",
             "`python benchmarks/deep_local_accuracy.py`: the {count} products of `sports-supplements.tsv` "
             "(title + brand), gold = their retailer category's node in Google's taxonomy (2021-09-21) by the hand "
             "mapping `benchmarks/data/sports-supplements-google.yaml` (24 categories onto 3 nodes: {spread}). "
             "`--model local`: each product gets its nearest assignable node (node names, each with its ancestors "
             "as context; centred embeddings). Level 1 = the top-level node (Health & Beauty) or, under a root, the "
             "level below it.", "",
             "| nodes offered | exact node | level 1 | level 2 | level 3 | level 4 | hierarchical F1 |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    predicted: Counter[str] = Counter()
    for label, extra in VARIANTS:
        folder = run(products, runs, extra)
        metrics = json.loads((folder / "outputs" / "metrics.json").read_text())
        levels = metrics["level_accuracy"]
        cells = [f"{levels[str(i)]:.1%}" if levels.get(str(i)) is not None else "" for i in range(1, 5)]
        lines.append(f"| {label} | {metrics['node_accuracy']:.1%} | {' | '.join(cells)} | "
                     f"{metrics['hierarchical_f1']:.3f} |")
        if not extra:
            with (folder / "outputs" / "classifications.csv").open(encoding="utf-8") as handle:
                predicted.update(row["path"] for row in csv.DictReader(handle))
    finder = CandidateFinder(load_embedder(), tax, file_sha256(GOOGLE))
    shortlists = {pid: list(c.node_ids) for pid, c in finder.shortlist(items, 100).items()}
    rows = [{"product_id": p.product_id, "status": "ok", "subcategory": "",
             "expected_subcategory": p.expected_subcategory} for p in items]
    scored = scored_rows(rows, tax)
    recall = {k: retrieval_recall(scored, tax, {p: s[:k] for p, s in shortlists.items()}, k) for k in (10, 30, 100)}
    lines += ["", "Retrieval over the whole taxonomy (what an LLM run would be offered): the share of products "
              "whose gold node (exact) or a node on its path is among their K candidates.", "",
              "| K | exact node | node or an ancestor |", "|---:|---:|---:|"]
    lines += [f"| {k} | {r['exact_recall_at_k']:.1%} | {r['recall_at_k']:.1%} |" for k, r in recall.items()]
    lines += ["", "Most frequent answers over the whole taxonomy:", ""]
    lines += [f"- {count} × {path}" for path, count in predicted.most_common(8)]
    return lines


def _learned(tax, examples: Path, held_out: Path, runs: Path) -> list[str]:
    """Zero-shot against learning from the examples half, both scored on the held-out half."""
    gold = [p.expected_subcategory for p in load_products(held_out)]
    majority, _ = Counter(p.expected_subcategory for p in load_products(examples)).most_common(1)[0]
    nodes = [node for node, _ in Counter(gold).most_common()]
    lines = ["", f"## Learning from `--examples` (seed {SEED})", "",
             f"A seeded half of the sample ({len(load_products(examples))} products) is the examples file, the other "
             f"half ({len(gold)}) is classified and scored, zero-shot and with `--examples`; the same held-out half "
             "in every row. The majority baseline answers every product with the examples' most frequent node "
             f"({majority} {tax.node(majority).name}).", "",
             f"`right per gold node`: right / held-out products of each gold node ({' / '.join(nodes)}). "
             f"`seconds`: the run's wall time (load average {load_average()} before this table).", "",
             "| nodes offered | answer | exact node | level 1 | right per gold node | chosen: learned weight w, "
             "ridge, T, tau | CV accuracy (zero-shot) | seconds |", "|---|---|---:|---:|---|---|---|---:|"]
    for (label, extra), root_depth in ((VARIANTS[0], 0), (VARIANTS[2], len(FITNESS.split(" > ")))):
        top = tax.node(majority).lineage[root_depth]
        level1 = sum(tax.node(g).lineage[root_depth] == top for g in gold) / len(gold)
        per_node = " / ".join(f"{gold.count(n) if n == majority else 0}/{gold.count(n)}" for n in nodes)
        lines.append(f"| {label} | majority node | {gold.count(majority) / len(gold):.1%} | {level1:.1%} | "
                     f"{per_node} | | | |")
        for answer, more in (("zero-shot", []), ("learned", ["--examples", str(examples)])):
            started = time.perf_counter()
            folder = run(held_out, runs, [*extra, *more])
            seconds = time.perf_counter() - started
            metrics = json.loads((folder / "outputs" / "metrics.json").read_text())
            learning = json.loads((folder / "config" / "system_info.json").read_text())["model"].get("learning")
            chosen = cv = ""
            if learning:
                chosen = (f"{learning['learned_weight']}, {learning['ridge']}, {learning['temperature']}, "
                          f"{learning['calibration_tau']}")
                cv = (f"{learning['cross_validation']['accuracy']:.1%} "
                      f"({learning['cross_validation']['zero_shot_accuracy']:.1%})")
            with (folder / "outputs" / "classifications.csv").open(encoding="utf-8") as handle:
                right = Counter(r["expected_subcategory"] for r in csv.DictReader(handle) if r["correct"] == "True")
            per_node = " / ".join(f"{right[n]}/{gold.count(n)}" for n in nodes)
            lines.append(f"| {label} | {answer} | {metrics['node_accuracy']:.1%} | "
                         f"{metrics['level_accuracy']['1']:.1%} | {per_node} | {chosen} | {cv} | {seconds:.1f} |")
    return lines


if __name__ == "__main__":
    sys.exit(main())
