"""Quality metrics of an assign-cat run: category and pair accuracy and F1, a category confusion matrix.

The rules (``not_run`` left out, ``invalid``/``error`` predicted ``(none)``, F1 averages) are
``labnb.scoring``'s, shared with every use case; a pair is right only when both levels are.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from assign_cat.taxonomy import Taxonomy, load_taxonomy
from labnb import scoring
from labnb.scoring import n, ratio

_TEXT_COLUMNS = ("category", "subcategory", "expected_category", "expected_subcategory")


def _frame(rows: pd.DataFrame | Iterable[dict[str, Any]]) -> pd.DataFrame:
    return scoring.rows_frame(rows, _TEXT_COLUMNS, "product_id", "product")


def _gold(df: pd.DataFrame) -> pd.Series:
    return (df["expected_category"] != "") | (df["expected_subcategory"] != "")


def _scored(df: pd.DataFrame) -> pd.DataFrame:
    """Gold rows that were attempted, with ``gold_*`` and ``pred_*`` label columns added."""
    out = scoring.attempted(df, _gold(df))
    answered = out["category"] != ""
    out["gold_category"] = out["expected_category"]
    out["gold_pair"] = out["expected_category"] + "/" + out["expected_subcategory"]
    out["pred_category"] = scoring.predicted(out, out["category"], answered)
    out["pred_pair"] = scoring.predicted(out, out["category"] + "/" + out["subcategory"], answered)
    return out


def _per_category(sc: pd.DataFrame, labels: list[str], taxonomy: Taxonomy | None) -> dict[str, dict]:
    out = scoring.per_label(sc["gold_category"], sc["pred_category"], labels, scoring.weights(sc))
    names = {c.id: c.name for c in taxonomy.categories} if taxonomy else {}
    for label, entry in out.items():
        of_label = sc["gold_category"] == label
        # recall is the category-level accuracy of this class; this is the pair-level one
        entry["subcategory_accuracy"] = ratio(n(sc, of_label & (sc["gold_pair"] == sc["pred_pair"])), n(sc, of_label))
        if label in names:
            entry["name"] = names[label]
    return out


def compute_metrics(rows: pd.DataFrame | Iterable[dict[str, Any]], taxonomy: Taxonomy | None = None) -> dict:
    """Scores of ``rows`` (classifications.csv columns); floats rounded to 6 decimals, ``None`` when undefined."""
    df = _frame(rows)
    sc = _scored(df)
    order = taxonomy.category_ids if taxonomy else None
    cat_labels = scoring.labels(sc["gold_category"], sc["pred_category"], order)
    pair_order = [f"{c}/{s}" for c, s in sorted(taxonomy.pairs, key=_pair_rank(taxonomy))] if taxonomy else None
    pair_labels = scoring.labels(sc["gold_pair"], sc["pred_pair"], pair_order)
    counts = scoring.counts(df, _gold(df), sc)
    n_correct = n(sc, sc["gold_pair"] == sc["pred_pair"])
    n_cat = n(sc, sc["gold_category"] == sc["pred_category"])
    weight = scoring.weights(sc)
    return {
        "accuracy": ratio(n_correct, n(sc)),
        "category_accuracy": ratio(n_cat, n(sc)),
        "subcategory_accuracy": ratio(n_correct, n(sc)),
        "answered_accuracy": ratio(n_correct, counts["n_ok"]),
        "category_f1_macro": scoring.f1(sc["gold_category"], sc["pred_category"], cat_labels, "macro", weight),
        "category_f1_weighted": scoring.f1(sc["gold_category"], sc["pred_category"], cat_labels, "weighted", weight),
        "subcategory_f1_macro": scoring.f1(sc["gold_pair"], sc["pred_pair"], pair_labels, "macro", weight),
        "subcategory_f1_weighted": scoring.f1(sc["gold_pair"], sc["pred_pair"], pair_labels, "weighted", weight),
        **counts,
        "n_correct": n_correct,
        "n_category_correct": n_cat,
        # gold pairs the taxonomy does not have (names instead of ids?): no answer can match them
        "n_gold_outside_taxonomy": None if taxonomy is None else n(
            sc, ~sc["gold_pair"].isin({f"{c}/{s}" for c, s in taxonomy.pairs})),
        "per_category": _per_category(sc, cat_labels, taxonomy),
    }


def _pair_rank(taxonomy: Taxonomy):
    rank = {(c.id, s.id): (i, j) for i, c in enumerate(taxonomy.categories) for j, s in enumerate(c.subcategories)}
    return lambda pair: rank[pair]


def confusion_matrix(rows: pd.DataFrame | Iterable[dict[str, Any]], taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """Category-level counts: index = gold category, columns = predicted category plus ``(none)`` for failures."""
    sc = _scored(_frame(rows))
    return scoring.confusion(sc["gold_category"], sc["pred_category"], taxonomy.category_ids if taxonomy else None,
                             scoring.weights(sc))


def write_metrics(run_dir: str | Path, taxonomy: Taxonomy | None = None) -> dict:
    """Write ``outputs/metrics.json`` and ``outputs/confusion_matrix.csv`` of a run folder; return the metrics."""
    run_dir = Path(run_dir)
    snapshot = run_dir / "inputs" / "taxonomy.xml"
    if taxonomy is None and snapshot.is_file():
        taxonomy = load_taxonomy(snapshot)
    return scoring.write_run_metrics(run_dir, lambda rows: (compute_metrics(rows, taxonomy),
                                                            confusion_matrix(rows, taxonomy)))
