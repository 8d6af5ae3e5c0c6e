"""Quality metrics of a run against gold labels: accuracy, F1 and a confusion matrix (scikit-learn).

Only rows with a gold label count. ``not_run`` rows were never attempted and are left out of every
score (reported as ``n_not_run``); ``invalid`` and ``error`` rows count as wrong, predicted ``(none)``,
and are also reported apart (``n_failed``). F1 averages run over the labels seen in gold or in a
valid prediction (``(none)`` is not a class), with 0 for undefined precision or recall.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import f1_score, precision_recall_fscore_support

from assign_cat.taxonomy import Taxonomy, load_taxonomy
from labnb.errors import InputError
from labnb.results import STATUSES

NONE_LABEL = "(none)"
FAILED_STATUSES = ("invalid", "error")
DIGITS = 6
_TEXT_COLUMNS = ("product_id", "category", "subcategory", "status", "error_type",
                 "expected_category", "expected_subcategory")


def _frame(rows: pd.DataFrame | Iterable[dict[str, Any]]) -> pd.DataFrame:
    df = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if "status" not in df.columns:
        df["status"] = "ok"  # a bare list of answers: every row is an answer
    for col in _TEXT_COLUMNS:
        if col not in df.columns:
            df[col] = ""
        df[col] = df[col].fillna("").astype(str).str.strip()
    unknown = df.loc[~df["status"].isin(STATUSES)]
    if len(unknown):
        row = unknown.iloc[0]
        raise InputError(f"product '{row['product_id']}': unknown status '{row['status']}' "
                         f"(expected one of {', '.join(STATUSES)})")
    return df


def _scored(df: pd.DataFrame) -> pd.DataFrame:
    """Gold rows that were attempted, with ``gold_*`` and ``pred_*`` label columns added."""
    gold = (df["expected_category"] != "") | (df["expected_subcategory"] != "")
    out = df.loc[gold & (df["status"] != "not_run")].copy()
    answered = (out["status"] == "ok") & (out["category"] != "")
    out["gold_category"] = out["expected_category"]
    out["gold_pair"] = out["expected_category"] + "/" + out["expected_subcategory"]
    out["pred_category"] = out["category"].where(answered, NONE_LABEL)
    out["pred_pair"] = (out["category"] + "/" + out["subcategory"]).where(answered, NONE_LABEL)
    return out


def _labels(gold: pd.Series, pred: pd.Series, order: list[str] | None = None) -> list[str]:
    seen = (set(gold) | set(pred)) - {NONE_LABEL}
    first = [label for label in (order or []) if label in seen]
    return first + sorted(seen - set(first))


def _r(value: float | None) -> float | None:
    return None if value is None else round(float(value), DIGITS)


def _ratio(num: int, den: int) -> float | None:
    return _r(num / den) if den else None


def _f1(gold: pd.Series, pred: pd.Series, labels: list[str], average: str) -> float | None:
    if not len(gold):
        return None
    return _r(f1_score(gold, pred, labels=labels, average=average, zero_division=0))


def _per_category(sc: pd.DataFrame, labels: list[str], taxonomy: Taxonomy | None) -> dict[str, dict]:
    if not len(sc):
        return {}
    prec, rec, f1, support = precision_recall_fscore_support(
        sc["gold_category"], sc["pred_category"], labels=labels, zero_division=0)
    names = {c.id: c.name for c in taxonomy.categories} if taxonomy else {}
    out: dict[str, dict] = {}
    for i, label in enumerate(labels):
        of_label = sc["gold_category"] == label
        entry = {
            "precision": _r(prec[i]), "recall": _r(rec[i]), "f1": _r(f1[i]), "support": int(support[i]),
            "predicted": int((sc["pred_category"] == label).sum()),
            # recall is the category-level accuracy of this class; this is the pair-level one
            "subcategory_accuracy": _ratio(int((sc.loc[of_label, "gold_pair"] == sc.loc[of_label, "pred_pair"]).sum()),
                                           int(of_label.sum())),
        }
        if label in names:
            entry["name"] = names[label]
        out[label] = entry
    return out


def compute_metrics(rows: pd.DataFrame | Iterable[dict[str, Any]], taxonomy: Taxonomy | None = None) -> dict:
    """Scores of ``rows`` (classifications.csv columns); floats rounded to 6 decimals, ``None`` when undefined."""
    df = _frame(rows)
    sc = _scored(df)
    gold = (df["expected_category"] != "") | (df["expected_subcategory"] != "")
    order = taxonomy.category_ids if taxonomy else None
    cat_labels = _labels(sc["gold_category"], sc["pred_category"], order)
    pair_order = [f"{c}/{s}" for c, s in sorted(taxonomy.pairs, key=_pair_rank(taxonomy))] if taxonomy else None
    pair_labels = _labels(sc["gold_pair"], sc["pred_pair"], pair_order)
    n_scored = len(sc)
    n_ok = int((sc["status"] == "ok").sum())
    n_correct = int((sc["gold_pair"] == sc["pred_pair"]).sum())
    n_cat = int((sc["gold_category"] == sc["pred_category"]).sum())
    statuses = df["status"].value_counts()
    return {
        "accuracy": _ratio(n_correct, n_scored),
        "category_accuracy": _ratio(n_cat, n_scored),
        "subcategory_accuracy": _ratio(n_correct, n_scored),
        "answered_accuracy": _ratio(n_correct, n_ok),
        "category_f1_macro": _f1(sc["gold_category"], sc["pred_category"], cat_labels, "macro"),
        "category_f1_weighted": _f1(sc["gold_category"], sc["pred_category"], cat_labels, "weighted"),
        "subcategory_f1_macro": _f1(sc["gold_pair"], sc["pred_pair"], pair_labels, "macro"),
        "subcategory_f1_weighted": _f1(sc["gold_pair"], sc["pred_pair"], pair_labels, "weighted"),
        "n_rows": len(df),
        "n_gold": int(gold.sum()),
        "n_scored": n_scored,
        "n_ok": n_ok,
        "n_correct": n_correct,
        "n_category_correct": n_cat,
        "n_failed": n_scored - n_ok,
        "n_invalid": int((sc["status"] == "invalid").sum()),
        "n_error": int((sc["status"] == "error").sum()),
        "n_not_run": int((gold & (df["status"] == "not_run")).sum()),
        # gold pairs the taxonomy does not have (names instead of ids?): no answer can match them
        "n_gold_outside_taxonomy": None if taxonomy is None else int(
            (~sc["gold_pair"].isin({f"{c}/{s}" for c, s in taxonomy.pairs})).sum()),
        "status_counts": {s: int(statuses.get(s, 0)) for s in STATUSES},
        "error_type_counts": {k: int(v) for k, v in df.loc[df["error_type"] != "", "error_type"]
                              .value_counts().sort_index().items()},
        "per_category": _per_category(sc, cat_labels, taxonomy),
    }


def _pair_rank(taxonomy: Taxonomy):
    rank = {(c.id, s.id): (i, j) for i, c in enumerate(taxonomy.categories) for j, s in enumerate(c.subcategories)}
    return lambda pair: rank[pair]


def confusion_matrix(rows: pd.DataFrame | Iterable[dict[str, Any]], taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """Category-level counts: index = gold category, columns = predicted category plus ``(none)`` for failures."""
    sc = _scored(_frame(rows))
    order = taxonomy.category_ids if taxonomy else None
    gold_labels = _labels(sc["gold_category"], pd.Series([], dtype=str), order)
    columns = [*_labels(sc["gold_category"], sc["pred_category"], order), NONE_LABEL]
    if len(sc):
        counts = sk_confusion_matrix(sc["gold_category"], sc["pred_category"], labels=columns)
    else:
        counts = [[0] * len(columns) for _ in columns]
    matrix = pd.DataFrame(counts, index=pd.Index(columns, name="gold"),
                          columns=pd.Index(columns, name="predicted")).astype(int)
    return matrix.loc[gold_labels]


def write_metrics(run_dir: str | Path, taxonomy: Taxonomy | None = None) -> dict:
    """Write ``outputs/metrics.json`` and ``outputs/confusion_matrix.csv`` of a run folder; return the metrics."""
    run_dir = Path(run_dir)
    csv_path = run_dir / "outputs" / "classifications.csv"
    if not csv_path.is_file():
        raise InputError(f"{csv_path}: not found (is {run_dir} a run folder?)")
    rows = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    taxonomy_path = run_dir / "inputs" / "taxonomy.xml"
    if taxonomy is None and taxonomy_path.is_file():
        taxonomy = load_taxonomy(taxonomy_path)
    metrics = compute_metrics(rows, taxonomy)
    out = run_dir / "outputs"
    (out / "metrics.json").write_text(json.dumps(metrics, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    confusion_matrix(rows, taxonomy).to_csv(out / "confusion_matrix.csv")
    return metrics
