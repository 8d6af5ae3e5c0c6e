"""Runs side by side: cost, tokens, time and accuracy; pairwise agreement, Cohen's kappa and disagreements."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import pandas as pd

from labnb.analysis.runs import run_fields, run_record
from labnb.errors import InputError
from labnb.scoring import cohen_kappa
from labnb.task import Task

DIGITS = 6
SIDE_BY_SIDE = (
    "run_id", "model", "status", "items", "ok", "failures", "not_run", "accuracy",
    "cost_usd", "total_tokens", "prompt_tokens", "completion_tokens", "duration_s", "latency_p50_ms",
    "latency_p95_ms", "tags", "note",
)


@dataclass
class Comparison:
    """``runs``: one row per run; ``pairs``: one row per pair of runs; ``disagreements``: one row per item."""

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


def task_of(df: pd.DataFrame) -> type[Task]:
    from labnb.registry import task_class

    return task_class(df.attrs.get("use_case"))


def _joined(df: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """The values of ``columns`` joined with "/" (a two-level answer reads ``cat/sub``)."""
    out = _text(df, columns[0])
    for col in columns[1:]:
        out = out + "/" + _text(df, col)
    return out


def _ids(df: pd.DataFrame) -> pd.Series:
    return _text(df, task_of(df).id_column)


def pair_labels(df: pd.DataFrame) -> pd.Series:
    """The answer of every answered (status ok) item, indexed by item id."""
    ok = df.loc[_text(df, "status") == "ok"]
    return pd.Series(_joined(ok, task_of(df).answer_columns).values, index=_ids(ok).values, dtype=str)


def answers(df: pd.DataFrame) -> pd.Series:
    """Every item's answer as shown to a reader: ``cat/sub``, ``invalid: cat/sub``, ``error: type``, ``not run``."""
    columns = task_of(df).answer_columns
    status, first = _text(df, "status"), _text(df, columns[0])
    err = _text(df, "error_type")
    pair = _joined(df, columns)
    shown = pair.where(status == "ok", "")
    shown = shown.where(status != "invalid", "invalid: " + pair.where(first != "", "?"))
    shown = shown.where(status != "error", "error: " + err.where(err != "", "?"))
    shown = shown.where(status != "not_run", "not run")
    return pd.Series(shown.values, index=_ids(df).values, dtype=str)


def _gold(df: pd.DataFrame) -> pd.Series:
    columns = task_of(df).gold_columns
    given = pd.concat([_text(df, c) != "" for c in columns], axis=1).any(axis=1)
    gold = _joined(df, columns).where(given, "")
    return pd.Series(gold.values, index=_ids(df).values, dtype=str)


def agreement(a: pd.DataFrame, b: pd.DataFrame) -> dict:
    """Agreement and Cohen's kappa of two runs over the items both answered (status ok in both).

    ``n_both`` counts items present in both files; ``n_compared`` those both answered. ``kappa`` is
    ``None`` when undefined (no items, or both runs gave one same label to everything).
    """
    ids_a, ids_b = set(_ids(a)), set(_ids(b))
    la, lb = pair_labels(a), pair_labels(b)
    common = sorted(set(la.index) & set(lb.index))
    x, y = la.loc[common], lb.loc[common]
    kappa = cohen_kappa(list(x.values), list(y.values)) if common else None
    kappa = None if kappa is None else round(kappa, DIGITS)
    same = x.reset_index(drop=True).eq(y.reset_index(drop=True))  # by position: the items in common, in order
    return {
        "n_both": len(ids_a & ids_b),
        "n_compared": len(common),
        "n_agree": int(same.sum()),
        "agreement": round(float(same.mean()), DIGITS) if common else None,
        "kappa": kappa,
    }


def disagreements(runs: list[pd.DataFrame]) -> pd.DataFrame:
    """Items whose answers differ between runs (over the runs that have the item), with the gold label."""
    names = run_names(runs)
    task = task_of(runs[0])
    table = pd.concat([answers(df).rename(name) for df, name in zip(runs, names)], axis=1)
    titles = pd.concat([pd.Series(_text(df, task.text_column).values, index=_ids(df).values) for df in runs])
    golds = pd.concat([_gold(df) for df in runs])
    differ = table.apply(lambda row: row.dropna().nunique() > 1, axis=1)
    out = table.loc[differ].sort_index()
    out = out.fillna("(missing)")
    out.insert(0, task.text_column, titles[~titles.index.duplicated()].reindex(out.index).fillna("").values)
    gold = golds[golds != ""]
    out["gold"] = gold[~gold.index.duplicated()].reindex(out.index).fillna("").values
    out.index.name = task.id_column
    return out.reset_index()


def side_by_side(runs: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per run: who, status, counts, accuracy, cost, tokens and time."""
    records = [run_record(df) for df in runs]
    extra = [c for c in run_fields(records) if c not in run_fields([])]
    at = SIDE_BY_SIDE.index("accuracy") + 1
    columns = [*SIDE_BY_SIDE[:at], *extra, *SIDE_BY_SIDE[at:]]
    out = pd.DataFrame([{k: r.get(k) for k in columns} for r in records], columns=columns)
    out["run_id"] = run_names(runs)
    return out


def compare_runs(runs: list[pd.DataFrame]) -> Comparison:
    """Compare loaded runs (``load_run``): side by side, every pair's agreement, and the disagreements."""
    use_cases = {task_of(df).name for df in runs}
    if len(use_cases) > 1:
        first = runs[0].attrs.get("run_id")
        other = next(df for df in runs if task_of(df).name != task_of(runs[0]).name)
        raise InputError(f"cannot compare runs of different use cases: {first} is {task_of(runs[0]).name}, "
                         f"{other.attrs.get('run_id')} is {task_of(other).name}")
    names = run_names(runs)
    pairs = [{"run_a": names[i], "run_b": names[j], **agreement(runs[i], runs[j])}
             for i, j in combinations(range(len(runs)), 2)]
    columns = ["run_a", "run_b", "n_both", "n_compared", "n_agree", "agreement", "kappa"]
    return Comparison(side_by_side(runs), pd.DataFrame(pairs, columns=columns), disagreements(runs))
