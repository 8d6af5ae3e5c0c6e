"""Per-item differences between two runs: what B fixed, what B broke, and McNemar's exact p-value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from labnb.experiments import items, stats
from labnb.experiments.scheduler import run_json
from labnb.experiments.usecases import use_case_of


@dataclass
class RunDiff:
    run_a: str
    run_b: str
    n_both: int  # items in both runs
    n_scored: int  # items both runs scored (gold, run)
    fixed: int  # A wrong, B right
    broke: int  # A right, B wrong
    p_value: float
    items: pd.DataFrame  # id, text, A's answer, B's answer, gold, change


def diff_runs(run_a: str | Path, run_b: str | Path) -> RunDiff:
    """Compare two run folders item by item (either use case; read from their ``classifications.csv``)."""
    summary_a = run_json(str(run_a), "metadata/run_summary.json")
    use = use_case_of(summary_a)
    name_a = str(summary_a.get("run_id") or Path(run_a).name)
    name_b = str(run_json(str(run_b), "metadata/run_summary.json").get("run_id") or Path(run_b).name)
    if name_b == name_a:
        name_a, name_b = f"{name_a} (A)", f"{name_b} (B)"
    ta, tb = items.read_table(run_a), items.read_table(run_b)
    ans_a, ans_b = items.answers(ta, use), items.answers(tb, use)
    both = [i for i in ans_a.index if i in set(ans_b.index)]
    ok_a, ok_b = items.scored(ta, use), items.scored(tb, use)
    broke, fixed = stats.discordant(ok_a, ok_b)
    gold = pd.concat([items.gold(ta, use), items.gold(tb, use)])
    gold = gold[gold != ""]
    gold = gold[~gold.index.duplicated()]
    text = items.texts(ta, use)
    rows = []
    for item in both:
        if ans_a[item] == ans_b[item]:
            continue
        a, b = ok_a.get(item), ok_b.get(item)
        change = ("fixed" if b and not a else "broke" if a and not b else "both wrong" if a is False and b is False
                  else "")
        rows.append({use.id_column: item, use.text_column: text.get(item, ""), name_a: ans_a[item],
                     name_b: ans_b[item], "gold": gold.get(item, ""), "change": change})
    table = pd.DataFrame(rows, columns=[use.id_column, use.text_column, name_a, name_b, "gold", "change"])
    n_scored = len(ok_a.keys() & ok_b.keys())
    return RunDiff(name_a, name_b, len(both), n_scored, fixed, broke, stats.mcnemar_exact(broke, fixed), table)


def headline(d: RunDiff) -> str:
    """Two lines: how many items differ, and what B fixed and broke with McNemar's p."""
    return (f"A = {d.run_a}, B = {d.run_b}: {len(d.items)} of {d.n_both} items in both runs answered differently\n"
            f"B fixed {d.fixed} (A wrong, B right), B broke {d.broke} (A right, B wrong); "
            f"McNemar exact p = {d.p_value:.4g} on the {d.n_scored} items both scored")
