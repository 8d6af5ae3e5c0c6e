"""Scores of finished rows against gold labels, the same rules for every use case.

Only rows with a gold label count. ``not_run`` rows were never attempted and are left out of every
score; ``invalid`` and ``error`` rows count as wrong, predicted ``(none)``. F1 averages run over the
labels seen in gold or in a valid prediction (``(none)`` is not a class), with 0 for undefined
precision or recall. Floats are rounded to 6 decimals, ``None`` when undefined.

A frame may stand for many rows: its ``weight`` column says how many rows each line counts for (the
summed counts of a streamed run, ``labnb.scale``); without one every line is one row.

The arithmetic is scikit-learn's (``confusion_matrix``, ``precision_recall_fscore_support``, ``f1_score`` with
``zero_division=0``, ``cohen_kappa_score``), written out in numpy over the labels encoded once, so that scoring does
not need scikit-learn and SciPy (150 MB of the install); ``tests/framework/test_scoring_math.py`` checks it against
scikit-learn itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labnb.errors import InputError
from labnb.store.results import STATUSES

NONE_LABEL = "(none)"
DIGITS = 6
WEIGHT = "weight"


def n(df: pd.DataFrame, mask: pd.Series | None = None) -> int:
    """How many rows ``df`` (or its ``mask``ed lines) stands for."""
    weights = df[WEIGHT] if WEIGHT in df.columns else pd.Series(1, index=df.index)
    return int(weights.sum() if mask is None else weights[mask].sum())


def weights(df: pd.DataFrame) -> Any:
    """How many rows each of ``df``'s lines counts for (None: one row each)."""
    return df[WEIGHT].to_numpy() if WEIGHT in df.columns else None


def rows_frame(rows: pd.DataFrame | Iterable[dict[str, Any]], text_columns: Sequence[str],
               id_column: str, noun: str) -> pd.DataFrame:
    """``rows`` as a frame whose ``text_columns`` are stripped strings; an unknown status is an InputError."""
    df = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    df[WEIGHT] = df[WEIGHT].astype("int64") if WEIGHT in df.columns else 1
    if "status" not in df.columns:
        df["status"] = "ok"  # a bare list of answers: every row is an answer
    for col in (id_column, "status", "error_type", *text_columns):
        if col not in df.columns:
            df[col] = ""
        df[col] = df[col].fillna("").astype(str).str.strip()
    unknown = df.loc[~df["status"].isin(STATUSES)]
    if len(unknown):
        row = unknown.iloc[0]
        raise InputError(f"{noun} '{row[id_column]}': unknown status '{row['status']}' "
                         f"(expected one of {', '.join(STATUSES)})")
    return df


def attempted(df: pd.DataFrame, gold: pd.Series) -> pd.DataFrame:
    """The rows that count: with gold (``gold`` is a mask over ``df``) and not ``not_run``."""
    return df.loc[gold & (df["status"] != "not_run")].copy()


def predicted(sc: pd.DataFrame, label: pd.Series, answered: pd.Series) -> pd.Series:
    """``label`` where the row is an answer (``answered`` and status ok), ``(none)`` elsewhere."""
    return label.where(answered & (sc["status"] == "ok"), NONE_LABEL)


def labels(gold: pd.Series, pred: pd.Series, order: Sequence[str] | None = None) -> list[str]:
    """The classes: seen in gold or a valid prediction, ``order`` first, then the rest sorted."""
    seen = (set(gold) | set(pred)) - {NONE_LABEL}
    first = [label for label in (order or []) if label in seen]
    return first + sorted(seen - set(first))


def rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), DIGITS)


def ratio(num: int, den: int) -> float | None:
    return rounded(num / den) if den else None


def confusion_counts(gold: Sequence[str] | pd.Series, pred: Sequence[str] | pd.Series, classes: Sequence[str],
                     weight: Any = None) -> Any:
    """(classes x classes) weighted counts, gold in rows and predictions in columns; a line whose gold or prediction
    is not in ``classes`` is left out (scikit-learn's ``confusion_matrix``)."""
    g, p, w = _encoded(gold, pred, classes, weight)
    keep = (g >= 0) & (p >= 0)
    flat = np.bincount(g[keep] * len(classes) + p[keep], weights=w[keep], minlength=len(classes) ** 2)
    return flat.reshape(len(classes), len(classes)).astype(w.dtype)


def precision_recall_f1(gold: pd.Series, pred: pd.Series, classes: list[str], weight: Any = None) -> Any:
    """Per class of ``classes``: precision, recall, F1 (0 where undefined), support and the number predicted
    (weighted). Lines whose gold or prediction is outside ``classes`` (such as ``(none)``) still count against
    the class they do have."""
    tp, true_sum, pred_sum = _sums(gold, pred, classes, weight)
    precision, recall = _divided(tp, pred_sum), _divided(tp, true_sum)
    return precision, recall, _divided(2 * tp, true_sum + pred_sum), true_sum, pred_sum


def f1(gold: pd.Series, pred: pd.Series, classes: list[str], average: str, weight: Any = None) -> float | None:
    """F1 averaged over ``classes``: ``macro`` (plain mean) or ``weighted`` (by support)."""
    if not len(gold):
        return None
    _, _, f1s, support, _ = precision_recall_f1(gold, pred, classes, weight)
    if average == "macro":
        return rounded(float(f1s.mean())) if len(classes) else 0.0
    if average != "weighted":
        raise ValueError(f"unknown F1 average {average!r}")
    return rounded(float(np.average(f1s, weights=support))) if support.sum() else 0.0


def per_label(gold: pd.Series, pred: pd.Series, classes: list[str], weight: Any = None) -> dict[str, dict[str, Any]]:
    """Precision, recall, F1, support and the number predicted, for each class."""
    if not len(gold):
        return {}
    prec, rec, f1s, support, predicted = precision_recall_f1(gold, pred, classes, weight)
    return {label: {"precision": rounded(prec[i]), "recall": rounded(rec[i]), "f1": rounded(f1s[i]),
                    "support": int(support[i]), "predicted": int(predicted[i])}
            for i, label in enumerate(classes)}


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two labellings of the same items; None when undefined (no items, or chance agreement 1)."""
    classes = sorted(set(a) | set(b))
    counts = confusion_counts(a, b, classes).astype(np.float64)
    if not counts.sum():
        return None
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / counts.sum()
    disagreement = 1 - np.eye(len(classes))
    chance = float((disagreement * expected).sum())
    return 1 - float((disagreement * counts).sum()) / chance if chance else None


def _encoded(gold: Sequence[str] | pd.Series, pred: Sequence[str] | pd.Series, classes: Sequence[str],
             weight: Any) -> tuple[Any, Any, Any]:
    """Gold and predictions as positions in ``classes`` (-1: not one of them), and the lines' weights."""
    position = {label: i for i, label in enumerate(classes)}
    g = np.fromiter((position.get(label, -1) for label in gold), dtype=np.int64, count=len(gold))
    p = np.fromiter((position.get(label, -1) for label in pred), dtype=np.int64, count=len(pred))
    return g, p, np.ones(len(g), dtype=np.int64) if weight is None else np.asarray(weight)


def _sums(gold: Sequence[str] | pd.Series, pred: Sequence[str] | pd.Series, classes: Sequence[str],
          weight: Any) -> tuple[Any, Any, Any]:
    """Per class: weighted true positives, gold count and prediction count (one pass, not one per class)."""
    g, p, w = _encoded(gold, pred, classes, weight)
    w = w.astype(np.float64)
    hit = (g == p) & (g >= 0)

    def count(x: Any, keep: Any) -> Any:
        return np.bincount(x[keep], weights=w[keep], minlength=len(classes))

    return count(g, hit), count(g, g >= 0), count(p, p >= 0)


def _divided(num: Any, den: Any) -> Any:
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den != 0)


def counts(df: pd.DataFrame, gold: pd.Series, sc: pd.DataFrame) -> dict[str, Any]:
    """How many rows there are, have gold, were scored, answered, failed or never run; by status and error."""
    n_ok = n(sc, sc["status"] == "ok")
    failed = df.loc[df["error_type"] != ""]
    return {
        "n_rows": n(df),
        "n_gold": n(df, gold),
        "n_scored": n(sc),
        "n_ok": n_ok,
        "n_failed": n(sc) - n_ok,
        "n_invalid": n(sc, sc["status"] == "invalid"),
        "n_error": n(sc, sc["status"] == "error"),
        "n_not_run": n(df, gold & (df["status"] == "not_run")),
        "status_counts": {s: n(df, df["status"] == s) for s in STATUSES},
        "error_type_counts": {k: n(failed, failed["error_type"] == k) for k in sorted(set(failed["error_type"]))},
    }


def confusion(gold: pd.Series, pred: pd.Series, order: Sequence[str] | None = None,
              weight: Any = None) -> pd.DataFrame:
    """Counts: index = gold label, columns = predicted label plus ``(none)`` for failed rows."""
    gold_labels = labels(gold, pd.Series([], dtype=str), order)
    columns = [*labels(gold, pred, order), NONE_LABEL]
    empty = [[0] * len(columns) for _ in columns]
    matrix = confusion_counts(gold, pred, columns, weight) if len(gold) else empty
    frame = pd.DataFrame(matrix, index=pd.Index(columns, name="gold"),
                         columns=pd.Index(columns, name="predicted")).astype(int)
    return frame.loc[gold_labels]


def write_run_metrics(run_dir: Path, score: Callable[[pd.DataFrame], tuple[dict[str, Any], pd.DataFrame]]) -> dict:
    """Score ``outputs/classifications.csv`` of a run folder with ``score`` (rows -> metrics, confusion matrix).

    Writes ``outputs/metrics.json`` (sorted keys) and ``outputs/confusion_matrix.csv``; returns the metrics.
    """
    csv_path = run_dir / "outputs" / "classifications.csv"
    if not csv_path.is_file():
        raise InputError(f"{csv_path}: not found (is {run_dir} a run folder?)")
    metrics, matrix = score(pd.read_csv(csv_path, dtype=str, keep_default_na=False))  # ids such as 007 stay
    (run_dir / "outputs" / "metrics.json").write_text(json.dumps(metrics, sort_keys=True, indent=2) + "\n",
                                                      encoding="utf-8")
    matrix.to_csv(run_dir / "outputs" / "confusion_matrix.csv")
    return metrics
