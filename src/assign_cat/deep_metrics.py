"""Scores for taxonomies of any depth: exact node, per level, hierarchical P/R/F1 and retrieval recall@K.

Rows are classifications.csv rows: ``subcategory`` is the predicted node's id, ``expected_subcategory`` the
gold node as an id or a full path (``expected_category`` when it is empty). Levels count from the subtree
root down (level 1 = the ``category`` under the root). As in the two-level metrics, ``not_run`` rows are
left out and ``invalid``/``error`` rows count as wrong. A gold label that names no node counts as wrong
for the exact node and is left out of the level, hierarchical and retrieval scores (``n_gold_unresolved``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from assign_cat.taxonomy import DeepTaxonomy, Node

DIGITS = 6


@dataclass(frozen=True)
class Scored:
    """One gold row that was attempted: its gold and predicted nodes (None: unresolved / no valid answer)."""

    product_id: str
    gold: Node | None
    pred: Node | None
    weight: int = 1  # how many rows it stands for (the summed counts of a streamed run)


def _text(row: Mapping[Any, Any], key: str) -> str:
    value = row.get(key, "")
    return "" if value is None or (isinstance(value, float) and value != value) else str(value).strip()


def scored_rows(rows: pd.DataFrame | Iterable[Mapping[str, Any]], taxonomy: DeepTaxonomy) -> list[Scored]:
    """The rows with a gold label that were attempted, resolved to nodes."""
    records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)
    out: list[Scored] = []
    for row in records:
        gold_text = _text(row, "expected_subcategory") or _text(row, "expected_category")
        status = _text(row, "status") or "ok"
        if not gold_text or status == "not_run":
            continue
        pred = taxonomy.by_id.get(_text(row, "subcategory")) if status == "ok" else None
        out.append(Scored(_text(row, "product_id"), taxonomy.find(gold_text), pred, int(row.get("weight", 1))))
    return out


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, DIGITS) if den else None


def _level_scores(scored: Sequence[Scored], taxonomy: DeepTaxonomy) -> tuple[dict[str, float | None], dict[str, int]]:
    accuracy: dict[str, float | None] = {}
    support: dict[str, int] = {}
    for level in range(1, taxonomy.max_depth + 1):
        hits = total = 0
        for s in scored:
            if s.gold is None:
                continue
            gold = taxonomy.below_root(s.gold)
            if len(gold) < level:
                continue
            total += s.weight
            pred = taxonomy.below_root(s.pred) if s.pred else ()
            hits += s.weight * (len(pred) >= level and pred[:level] == gold[:level])
        accuracy[str(level)], support[str(level)] = _ratio(hits, total), total
    return accuracy, support


def _hierarchical(scored: Sequence[Scored], taxonomy: DeepTaxonomy) -> dict[str, float | None]:
    overlap = n_pred = n_gold = 0
    for s in scored:
        if s.gold is None:
            continue
        gold = set(taxonomy.below_root(s.gold))
        pred = set(taxonomy.below_root(s.pred)) if s.pred else set()
        overlap += s.weight * len(gold & pred)
        n_pred += s.weight * len(pred)
        n_gold += s.weight * len(gold)
    # Micro-averaged: F1 = 2PR / (P + R) = 2 * overlap / (|predicted| + |gold|).
    return {"hierarchical_precision": _ratio(overlap, n_pred), "hierarchical_recall": _ratio(overlap, n_gold),
            "hierarchical_f1": _ratio(2 * overlap, n_pred + n_gold)}


def retrieval_recall(scored: Sequence[Scored], taxonomy: DeepTaxonomy,
                     candidates: Mapping[str, Sequence[str]], k: int) -> dict[str, Any]:
    """Share of gold rows whose gold node, or a node on its path, was among their candidates."""
    hits = exact = total = 0
    for s in scored:
        if s.gold is None or s.product_id not in candidates:
            continue
        shortlist = set(candidates[s.product_id])
        total += 1
        exact += s.gold.id in shortlist
        hits += bool(shortlist & set(taxonomy.below_root(s.gold)))
    return {"k": k, "n": total, "recall_at_k": _ratio(hits, total), "exact_recall_at_k": _ratio(exact, total)}


def deep_metrics(rows: pd.DataFrame | Iterable[Mapping[str, Any]], taxonomy: DeepTaxonomy, *,
                 candidates: Mapping[str, Sequence[str]] | None = None, k: int | None = None) -> dict[str, Any]:
    """The deep scores of ``rows``; with ``candidates`` (product id → shortlisted node ids) the retrieval recall."""
    scored = scored_rows(rows, taxonomy)
    resolved = [s for s in scored if s.gold is not None]
    n_correct = sum(s.weight for s in resolved if s.pred is not None and s.gold is not None and s.pred.id == s.gold.id)
    levels, support = _level_scores(resolved, taxonomy)
    n_scored, n_resolved = sum(s.weight for s in scored), sum(s.weight for s in resolved)
    out: dict[str, Any] = {
        "node_accuracy": _ratio(n_correct, n_scored),
        "n_node_correct": n_correct,
        "n_deep_scored": n_scored,
        "n_gold_unresolved": n_scored - n_resolved,
        "n_gold_outside_root": sum(s.weight for s in resolved if s.gold is not None and not taxonomy.within(s.gold)),
        "level_accuracy": levels,
        "level_support": support,
        **_hierarchical(resolved, taxonomy),
    }
    if candidates is not None:
        out["retrieval"] = retrieval_recall(resolved, taxonomy, candidates, k or 0)
    return out
