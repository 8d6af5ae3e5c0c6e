"""Runs side by side: cost, tokens, time and accuracy; pairwise agreement, Cohen's kappa and disagreements."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from itertools import combinations

import pandas as pd
from sklearn.metrics import cohen_kappa_score

from assign_cat.analysis.runs import run_record

DIGITS = 6
SIDE_BY_SIDE = (
    "run_id", "model", "status", "products", "ok", "failures", "not_run", "accuracy", "category_accuracy",
    "cost_usd", "total_tokens", "prompt_tokens", "completion_tokens", "duration_s", "latency_p50_ms",
    "latency_p95_ms",
)


@dataclass
class Comparison:
    """``runs``: one row per run; ``pairs``: one row per pair of runs; ``disagreements``: one row per product."""

    runs: pd.DataFrame
    pairs: pd.DataFrame
    disagreements: pd.DataFrame


def run_names(runs: list[pd.DataFrame]) -> list[str]:
    """Each run's id, suffixed ``#2``, ``#3``… when the same run appears twice."""
    names: list[str] = []
    for df in runs:
        base = str(df.attrs.get("run_id", "run"))
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}#{n}"
        names.append(name)
    return names


def _text(df: pd.DataFrame, col: str) -> pd.Series:
    return df[col].fillna("").astype(str) if col in df.columns else pd.Series("", index=df.index, dtype=str)


def pair_labels(df: pd.DataFrame) -> pd.Series:
    """``category/subcategory`` of every answered (status ok) product, indexed by product_id."""
    ok = df.loc[_text(df, "status") == "ok"]
    return pd.Series((_text(ok, "category") + "/" + _text(ok, "subcategory")).values,
                     index=_text(ok, "product_id").values, dtype=str)


def answers(df: pd.DataFrame) -> pd.Series:
    """Every product's answer as shown to a reader: ``cat/sub``, ``invalid: cat/sub``, ``error: type``, ``not run``."""
    status, cat, sub = _text(df, "status"), _text(df, "category"), _text(df, "subcategory")
    err = _text(df, "error_type")
    pair = cat + "/" + sub
    shown = pair.where(status == "ok", "")
    shown = shown.where(status != "invalid", "invalid: " + pair.where(cat != "", "?"))
    shown = shown.where(status != "error", "error: " + err.where(err != "", "?"))
    shown = shown.where(status != "not_run", "not run")
    return pd.Series(shown.values, index=_text(df, "product_id").values, dtype=str)


def _gold(df: pd.DataFrame) -> pd.Series:
    cat, sub = _text(df, "expected_category"), _text(df, "expected_subcategory")
    gold = (cat + "/" + sub).where((cat != "") | (sub != ""), "")
    return pd.Series(gold.values, index=_text(df, "product_id").values, dtype=str)


def agreement(a: pd.DataFrame, b: pd.DataFrame) -> dict:
    """Agreement and Cohen's kappa of two runs over the products both answered (status ok in both).

    ``n_both`` counts products present in both files; ``n_compared`` those both answered. ``kappa`` is
    ``None`` when undefined (no products, or both runs gave one same label to everything).
    """
    ids_a, ids_b = set(_text(a, "product_id")), set(_text(b, "product_id"))
    la, lb = pair_labels(a), pair_labels(b)
    common = sorted(set(la.index) & set(lb.index))
    x, y = la.loc[common], lb.loc[common]
    kappa = None
    if common:
        with warnings.catch_warnings():  # one shared label: sklearn warns and returns nan
            warnings.simplefilter("ignore")
            value = float(cohen_kappa_score(x.values, y.values))
        kappa = None if math.isnan(value) else round(value, DIGITS)
    return {
        "n_both": len(ids_a & ids_b),
        "n_compared": len(common),
        "n_agree": int((x.values == y.values).sum()),
        "agreement": round(float((x.values == y.values).mean()), DIGITS) if common else None,
        "kappa": kappa,
    }


def disagreements(runs: list[pd.DataFrame]) -> pd.DataFrame:
    """Products whose answers differ between runs (over the runs that have the product), with the gold label."""
    names = run_names(runs)
    table = pd.concat([answers(df).rename(name) for df, name in zip(runs, names)], axis=1)
    titles = pd.concat([pd.Series(_text(df, "title").values, index=_text(df, "product_id").values) for df in runs])
    golds = pd.concat([_gold(df) for df in runs])
    differ = table.apply(lambda row: row.dropna().nunique() > 1, axis=1)
    out = table.loc[differ].sort_index()
    out = out.fillna("(missing)")
    out.insert(0, "title", titles[~titles.index.duplicated()].reindex(out.index).fillna("").values)
    gold = golds[golds != ""]
    out["gold"] = gold[~gold.index.duplicated()].reindex(out.index).fillna("").values
    out.index.name = "product_id"
    return out.reset_index()


def side_by_side(runs: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per run: who, status, counts, accuracy, cost, tokens and time."""
    rows = [{k: run_record(df)[k] for k in SIDE_BY_SIDE} for df in runs]
    out = pd.DataFrame(rows, columns=list(SIDE_BY_SIDE))
    out["run_id"] = run_names(runs)
    return out


def compare_runs(runs: list[pd.DataFrame]) -> Comparison:
    """Compare loaded runs (``load_run``): side by side, every pair's agreement, and the disagreements."""
    names = run_names(runs)
    pairs = [{"run_a": names[i], "run_b": names[j], **agreement(runs[i], runs[j])}
             for i, j in combinations(range(len(runs)), 2)]
    columns = ["run_a", "run_b", "n_both", "n_compared", "n_agree", "agreement", "kappa"]
    return Comparison(side_by_side(runs), pd.DataFrame(pairs, columns=columns), disagreements(runs))
