"""Quality metrics of a flat-label run: accuracy, macro and weighted F1, per-label scores, confusion matrix.

The rules (``not_run`` left out, ``invalid``/``error`` predicted ``(none)``, F1 averages) are
``labnb.scoring``'s, shared with every use case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from labnb import scoring
from labnb.flat.labels import LabelSet
from labnb.scoring import n, ratio


@dataclass(frozen=True)
class Scored:
    """Which columns of classifications.csv are scored: the answer, its gold, and the item id."""

    answer: str = "label"
    gold: str = "expected_label"
    id_column: str = "item_id"


def _scored(rows: pd.DataFrame | Iterable[dict[str, Any]], cols: Scored) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All rows, and the attempted gold rows with a ``pred`` column (``(none)`` for failures)."""
    df = scoring.rows_frame(rows, (cols.answer, cols.gold), cols.id_column, "item")
    taken = [c for c in ("label", "expected_label") if c in df.columns and c not in (cols.answer, cols.gold)]
    df = df.drop(columns=taken).rename(columns={cols.answer: "label", cols.gold: "expected_label"})
    sc = scoring.attempted(df, df["expected_label"] != "")
    sc["pred"] = scoring.predicted(sc, sc["label"], sc["label"] != "")
    return df, sc


def compute_metrics(rows: pd.DataFrame | Iterable[dict[str, Any]], labels: LabelSet | None = None,
                    cols: Scored = Scored()) -> dict:
    """Scores of ``rows`` (classifications.csv columns); ``labels`` gives the per-label order and names."""
    df, sc = _scored(rows, cols)
    gold, pred, weight = sc["expected_label"], sc["pred"], scoring.weights(sc)
    classes = scoring.labels(gold, pred, labels.ids if labels else None)
    counts = scoring.counts(df, df["expected_label"] != "", sc)
    n_correct = n(sc, gold == pred)
    per_label = scoring.per_label(gold, pred, classes, weight)
    names = {label.id: label.name for label in labels.labels} if labels else {}
    for label_id, entry in per_label.items():
        if label_id in names:
            entry["name"] = names[label_id]
    return {
        "accuracy": ratio(n_correct, n(sc)),
        "answered_accuracy": ratio(n_correct, counts["n_ok"]),
        "f1_macro": scoring.f1(gold, pred, classes, "macro", weight),
        "f1_weighted": scoring.f1(gold, pred, classes, "weighted", weight),
        **counts,
        "n_correct": n_correct,
        # gold labels the label set does not have: no answer can match them
        "n_gold_outside_labels": None if labels is None else n(sc, ~gold.isin(labels.ids)),
        "per_label": per_label,
    }


def confusion_matrix(rows: pd.DataFrame | Iterable[dict[str, Any]], labels: LabelSet | None = None,
                     cols: Scored = Scored()) -> pd.DataFrame:
    """Counts: index = gold label, columns = predicted label plus ``(none)`` for failed rows."""
    _, sc = _scored(rows, cols)
    return scoring.confusion(sc["expected_label"], sc["pred"], labels.ids if labels else None, scoring.weights(sc))


def write_metrics(run_dir: str | Path, labels: LabelSet, cols: Scored = Scored()) -> dict:
    """Write ``outputs/metrics.json`` and ``outputs/confusion_matrix.csv`` of a run folder; return the metrics."""
    return scoring.write_run_metrics(Path(run_dir), lambda rows: (compute_metrics(rows, labels, cols),
                                                                  confusion_matrix(rows, labels, cols)))
