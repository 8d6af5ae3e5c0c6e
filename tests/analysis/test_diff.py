"""analyze_runs.py diff: per-item differences, what B fixed and broke, McNemar's p; --out as CSV."""

from __future__ import annotations

import pandas as pd
from test_analyze import PAIR_X, PAIR_Y, make_run

from analyze_runs import main


def test_diff_counts_fixed_and_broke_with_mcnemar(tmp_path, capsys):
    runs = tmp_path / "runs"
    make_run(runs, "run-x", PAIR_X)
    make_run(runs, "run-y", PAIR_Y)
    out = tmp_path / "diff.csv"
    assert main(["diff", "run-x", "run-y", "--runs-dir", str(runs), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # In both: p1-p7. X wrong on p2, p6; Y wrong on p7 (an error). Y fixed p2 and p6, broke p7:
    # McNemar b = 1, c = 2: p = 2 * (C(3,0) + C(3,1)) / 2^3 = 1.0
    assert lines[:2] == ["A = run-x, B = run-y: 3 of 7 items in both runs answered differently",
                         "B fixed 2 (A wrong, B right), B broke 1 (A right, B wrong); "
                         "McNemar exact p = 1 on the 7 items both scored"]
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert table.values.tolist() == [
        ["p2", "<script>alert(1)</script>", "a/a1", "b/b1", "b/b1", "fixed"],
        ["p6", "Iron & Co", "a/a1", "c/c1", "c/c1", "fixed"],
        ["p7", "Fish oil", "a/a1", "error: timeout", "a/a1", "broke"],
    ]
    assert table.columns.tolist() == ["product_id", "title", "run-x", "run-y", "gold", "change"]


def test_diff_p_value_when_b_is_clearly_better(tmp_path, capsys):
    base = [(f"p{i}", f"t{i}", "a/a1", "b/b1") for i in range(8)]  # A wrong on all 8
    better = [(f"p{i}", f"t{i}", "b/b1", "b/b1") for i in range(8)]  # B right on all 8
    make_run(tmp_path, "a", base)
    make_run(tmp_path, "b", better)
    assert main(["diff", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    # b = 0, c = 8: p = 2 / 2^8 = 0.0078125
    assert "B fixed 8 (A wrong, B right), B broke 0 (A right, B wrong); McNemar exact p = 0.007812" in (
        capsys.readouterr().out)
