"""Accuracy of the local model against the number of labelled examples it learns from.

Train/test splits (3 seeds, 30% test) of ../shared/data/products/sports-supplements.tsv (its
label-names-only taxonomy, as in local_accuracy.py), of data/sample_products.csv and of classify-text's
data/sample_reviews.csv (sentiment). Compared:
zero-shot (0 examples), plain logistic regression on title embeddings (the baseline to beat),
logistic regression C=10 and kNN each mixed with zero-shot, and the shipped learner (labnb.local.learner).
Writes benchmarks/local_learning_results.md.  Run: python benchmarks/local_learning.py
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from assign_cat.products import load_products  # noqa: E402
from assign_cat.task import AssignCat  # noqa: E402
from assign_cat.taxonomy import load_taxonomy  # noqa: E402
from labnb.classify.similarity import Design, choice_index, score_items  # noqa: E402
from labnb.local.embedder import load_embedder  # noqa: E402
from labnb.local.learner import accuracy, expected_calibration_error, fit_learner  # noqa: E402
from labnb.task import Task  # noqa: E402
from local_accuracy import SPORTS, sports_dataset  # noqa: E402

RESULTS = ROOT / "benchmarks" / "local_learning_results.md"
SIZES = (0, 100, 500, 1000, None)  # None = every training example
SEEDS = (0, 1, 2)
TEST_SHARE = 0.3


def arrays(task: Task, items: list[Any]) -> tuple[Any, Any, Any]:
    """(text vectors, zero-shot probabilities, gold choice indexes) of ``items``."""
    import numpy as np

    embedder = load_embedder()
    index = choice_index(embedder, list(task.choices().values()), Design())
    zero_shot, _ = score_items(embedder, index, Design(), items)
    position = {choice.id: i for i, choice in enumerate(index.choices)}
    gold = np.array([position[task.gold_choice(item)] for item in items])
    return embedder.encode([item.text for item in items]), zero_shot, gold


def reviews() -> tuple[Task, list[Any]]:
    """classify-text's shipped sample with its sentiment label set."""
    from classify_text.task import ClassifyText

    task = ClassifyText()
    task._use_labels(ROOT / "config" / "labels" / "sentiment.yaml")
    return task, task.read_items(ROOT / "data" / "sample_reviews.csv")


def logistic(vectors: Any, labels: Any, queries: Any, n_choices: int, c: float = 1.0) -> Any:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=2000).fit(vectors, labels)
    out = np.zeros((len(queries), n_choices))
    out[:, model.classes_] = model.predict_proba(queries)
    return out


def knn(vectors: Any, labels: Any, queries: Any, n_choices: int, k: int = 10, temperature: float = 0.05) -> Any:
    import numpy as np

    similarity = queries @ vectors.T
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    out = np.zeros((len(queries), n_choices))
    for row, columns in enumerate(nearest):
        weights = np.exp((similarity[row, columns] - similarity[row, columns].max()) / temperature)
        np.add.at(out[row], labels[columns], weights)
    return out / out.sum(axis=1, keepdims=True)


def evaluate(name: str, vectors: Any, zero_shot: Any, gold: Any) -> list[str]:
    """Markdown rows: one per number of examples, accuracy averaged over the seeds."""
    import numpy as np

    n_test = round(TEST_SHARE * len(gold))
    n_train = len(gold) - n_test
    rows = []
    for size in SIZES:
        n = n_train if size is None else size
        if n > n_train:
            rows.append(f"| {name} | {size:,} | – | – | – | – | – | (only {n_train:,} training examples) |")
            continue
        cells: dict[str, list[float]] = {}
        for seed in SEEDS:
            order = np.random.RandomState(seed).permutation(len(gold))
            test, train = order[:n_test], order[n_test:n_test + n]
            cells.setdefault("zero", []).append(accuracy(zero_shot[test], gold[test]))
            if not n:
                continue
            c = zero_shot.shape[1]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                plain = logistic(vectors[train], gold[train], vectors[test], c)
                tuned = logistic(vectors[train], gold[train], vectors[test], c, 10.0)
            cells.setdefault("plain", []).append(accuracy(plain, gold[test]))
            cells.setdefault("lr10", []).append(accuracy(0.7 * tuned + 0.3 * zero_shot[test], gold[test]))
            near = knn(vectors[train], gold[train], vectors[test], c)
            cells.setdefault("knn", []).append(accuracy(0.5 * near + 0.5 * zero_shot[test], gold[test]))
            started = time.perf_counter()
            learner = fit_learner(vectors[train], gold[train], zero_shot[train])
            cells.setdefault("seconds", []).append(time.perf_counter() - started)
            ours = learner.predict(vectors[test], zero_shot[test])
            cells.setdefault("ours", []).append(accuracy(ours, gold[test]))
            cells.setdefault("ece", []).append(expected_calibration_error(ours, gold[test]))

        def cell(key: str, cells: dict[str, list[float]] = cells) -> str:
            return f"{np.mean(cells[key]):.1%}" if key in cells else "–"

        label = f"all ({n:,})" if size is None else f"{n:,}"
        ours = f"**{cell('ours')}**" if "ours" in cells else "–"
        ece = f"{np.mean(cells['ece']):.3f}" if "ece" in cells else "–"
        fit = f"{np.mean(cells['seconds']):.1f} s" if "seconds" in cells else ""
        rows.append(f"| {name} | {label} | {cell('zero')} | {cell('plain')} | {cell('lr10')} | {cell('knn')} | "
                    f"{ours} | ECE {ece} {fit} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if SPORTS.is_file():
            taxonomy, products = sports_dataset(Path(tmp))
            rows += evaluate(f"sports-supplements.tsv ({len(products)})", *arrays(AssignCat(taxonomy), products))
        else:
            print(f"skipping the sports set: {SPORTS} not found", file=sys.stderr)
    products = [p for p in load_products(ROOT / "data" / "sample_products.csv") if p.has_gold]
    rows += evaluate(f"sample_products.csv ({len(products)})",
                     *arrays(AssignCat(load_taxonomy(ROOT / "config" / "taxonomy.xml")), products))
    task, items = reviews()
    rows += evaluate(f"sample_reviews.csv ({len(items)}, sentiment)", *arrays(task, items))
    text = "\n".join([
        "# Local model: accuracy against the number of labelled examples",
        "",
        "Generated by `python benchmarks/local_learning.py`. Pair accuracy (category and subcategory right) on "
        f"the held-out {TEST_SHARE:.0%} of each file, averaged over {len(SEEDS)} seeded splits; the training "
        "examples are the first N of the rest. Embeddings: all-MiniLM-L6-v2 of the titles (review texts). "
        "Zero-shot: the shipped local model (`labnb.classify.similarity.Design()`). The sports taxonomy has its "
        "label names only.",
        "",
        "| data | examples | zero-shot | plain logistic regression | LR C=10 + zero-shot (0.7/0.3) | "
        "kNN k=10 + zero-shot (0.5/0.5) | **shipped learner** | its calibration, fit time |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        *rows,
        "",
        "Shipped learner (`labnb/local/learner.py`): ridge-regularized linear classifier on the embeddings, mixed with "
        "the zero-shot probabilities, its ridge, softmax temperature and mixing weight chosen by 5-fold "
        "cross-validation on the examples, then temperature-calibrated on the out-of-fold predictions. ECE = "
        "expected calibration error of its `confidence` (10 bins). Plain logistic regression is scikit-learn's "
        "default (C=1, lbfgs) on the same embeddings, as in the issue's measurement.",
        "",
    ])
    RESULTS.write_text(text, encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
