"""Quality metrics checked against numbers computed by hand (see the comments)."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest

from assign_cat.metrics import compute_metrics, confusion_matrix, write_metrics
from assign_cat.taxonomy import Category, Subcategory, Taxonomy
from labnb.errors import InputError


def row(pid, gold, answer, status="ok", error_type=""):
    """``gold`` and ``answer`` are "cat/sub" strings ("" for none)."""
    ec, _, es = gold.partition("/")
    cat, _, sub = answer.partition("/")
    return {"product_id": pid, "title": f"Product {pid}", "category": cat, "subcategory": sub,
            "status": status, "error_type": error_type, "expected_category": ec, "expected_subcategory": es}


# Ten rows over categories a (a1, a2), b (b1), c (c1):
#   p1  gold a/a1  -> a/a1  ok        pair right, category right
#   p2  gold a/a1  -> a/a2  ok        category right only
#   p3  gold a/a2  -> b/b1  ok        wrong
#   p4  gold b/b1  -> b/b1  ok        right
#   p5  gold b/b1  -> error           failed: predicted (none)
#   p6  gold c/c1  -> c/c1  ok        right
#   p7  gold c/c1  -> c/zz  invalid   failed: its "c" must NOT count as a category hit
#   p8  gold a/a1  -> not_run         never attempted: left out of every score
#   p9  no gold    -> a/a1  ok        not scored
#   p10 gold b/b1  -> a/a1  ok        wrong
ROWS = [
    row("p1", "a/a1", "a/a1"), row("p2", "a/a1", "a/a2"), row("p3", "a/a2", "b/b1"),
    row("p4", "b/b1", "b/b1"), row("p5", "b/b1", "", "error", "rate_limit"), row("p6", "c/c1", "c/c1"),
    row("p7", "c/c1", "c/zz", "invalid", "invalid_label"), row("p8", "a/a1", "", "not_run", "not_run"),
    row("p9", "", "a/a1"), row("p10", "b/b1", "a/a1"),
]

# Scored rows: p1-p7 and p10 = 8 (p8 not run, p9 no gold).
# Category: right on p1 p2 p4 p6 = 4/8 = 0.5. Pair: right on p1 p4 p6 = 3/8 = 0.375.
# Answered (ok) scored rows: p1 p2 p3 p4 p6 p10 = 6, 3 right -> 0.5.
#
# Category level (predictions: a on p1 p2 p10, b on p3 p4, c on p6, (none) on p5 p7):
#   a: support 3 (p1 p2 p3), predicted 3, TP 2 -> P 2/3, R 2/3, F1 2/3; pair right 1/3 (p1)
#   b: support 3 (p4 p5 p10), predicted 2, TP 1 -> P 1/2, R 1/3, F1 2*(1/6)/(5/6) = 0.4; pair right 1/3 (p4)
#   c: support 2 (p6 p7), predicted 1, TP 1 -> P 1, R 1/2, F1 2/3; pair right 1/2 (p6)
#   macro F1 = (2/3 + 0.4 + 2/3) / 3 = 0.5777777…; weighted = (3*2/3 + 3*0.4 + 2*2/3) / 8 = 0.5666666…
# Pair level (predictions: a/a1 on p1 p10, a/a2 on p2, b/b1 on p3 p4, c/c1 on p6):
#   a/a1: support 2, predicted 2, TP 1 -> F1 0.5
#   a/a2: support 1, predicted 1, TP 0 -> F1 0
#   b/b1: support 3, predicted 2, TP 1 -> P 1/2, R 1/3, F1 0.4
#   c/c1: support 2, predicted 1, TP 1 -> F1 2/3
#   macro = (0.5 + 0 + 0.4 + 2/3) / 4 = 0.3916666…; weighted = (2*0.5 + 0 + 3*0.4 + 2*2/3) / 8 = 0.4416666…
EXPECTED = {
    "accuracy": 0.375,
    "category_accuracy": 0.5,
    "subcategory_accuracy": 0.375,
    "answered_accuracy": 0.5,
    "category_f1_macro": 0.577778,
    "category_f1_weighted": 0.566667,
    "subcategory_f1_macro": 0.391667,
    "subcategory_f1_weighted": 0.441667,
    "n_rows": 10, "n_gold": 9, "n_scored": 8, "n_ok": 6, "n_correct": 3, "n_category_correct": 4,
    "n_failed": 2, "n_invalid": 1, "n_error": 1, "n_not_run": 1, "n_gold_outside_taxonomy": None,
    "status_counts": {"ok": 7, "invalid": 1, "error": 1, "not_run": 1},
    "error_type_counts": {"invalid_label": 1, "not_run": 1, "rate_limit": 1},
    "per_category": {
        "a": {"precision": 0.666667, "recall": 0.666667, "f1": 0.666667, "support": 3, "predicted": 3,
              "subcategory_accuracy": 0.333333},
        "b": {"precision": 0.5, "recall": 0.333333, "f1": 0.4, "support": 3, "predicted": 2,
              "subcategory_accuracy": 0.333333},
        "c": {"precision": 1.0, "recall": 0.5, "f1": 0.666667, "support": 2, "predicted": 1,
              "subcategory_accuracy": 0.5},
    },
}


def test_metrics_match_hand_computed_values():
    assert compute_metrics(ROWS) == EXPECTED


def test_dataframe_input_gives_the_same_metrics():
    assert compute_metrics(pd.DataFrame(ROWS)) == EXPECTED


def test_confusion_matrix_counts_failures_in_none_column():
    # gold a: p1 p2 -> a, p3 -> b; gold b: p10 -> a, p4 -> b, p5 failed; gold c: p6 -> c, p7 failed
    matrix = confusion_matrix(ROWS)
    assert matrix.index.tolist() == ["a", "b", "c"]
    assert matrix.columns.tolist() == ["a", "b", "c", "(none)"]
    assert matrix.values.tolist() == [[2, 1, 0, 0], [1, 1, 0, 1], [0, 0, 1, 1]]


def test_prediction_outside_gold_is_a_class_with_zero_f1():
    # a: support 2, predicted 1, TP 1 -> P 1, R 1/2, F1 2/3.  d: support 0, predicted 1 -> P 0, R 0, F1 0.
    # macro = (2/3 + 0) / 2 = 1/3; weighted by support = (2 * 2/3 + 0 * 0) / 2 = 2/3.
    rows = [row("q1", "a/a1", "a/a1"), row("q2", "a/a1", "d/d1")]
    metrics = compute_metrics(rows)
    assert (metrics["category_f1_macro"], metrics["category_f1_weighted"]) == (0.333333, 0.666667)
    assert metrics["per_category"]["d"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0,
                                            "predicted": 1, "subcategory_accuracy": None}
    matrix = confusion_matrix(rows)
    assert matrix.index.tolist() == ["a"]
    assert matrix.columns.tolist() == ["a", "d", "(none)"]
    assert matrix.values.tolist() == [[1, 1, 0]]


TAXONOMY = Taxonomy("t", "1", (
    Category("c", "Cees", "", (Subcategory("c1", "C one"),)),
    Category("b", "Bees", "", (Subcategory("b1", "B one"),)),
    Category("a", "Aces", "", (Subcategory("a1", "A one"), Subcategory("a2", "A two"))),
))


def test_taxonomy_gives_order_and_names():
    metrics = compute_metrics(ROWS, TAXONOMY)
    assert list(metrics["per_category"]) == ["c", "b", "a"]
    assert [m["name"] for m in metrics["per_category"].values()] == ["Cees", "Bees", "Aces"]
    assert (metrics["accuracy"], metrics["n_gold_outside_taxonomy"]) == (0.375, 0)
    matrix = confusion_matrix(ROWS, TAXONOMY)
    assert matrix.index.tolist() == ["c", "b", "a"]
    assert matrix.columns.tolist() == ["c", "b", "a", "(none)"]
    assert matrix.values.tolist() == [[1, 0, 0, 1], [0, 1, 1, 1], [0, 1, 2, 0]]


def test_gold_labels_outside_the_taxonomy_are_counted():
    # gold written as names, not ids: p1 and p2 can never be right; p3 is a valid pair
    rows = [row("p1", "Protein/Whey Protein", "a/a1"), row("p2", "a/zz", "a/a1"), row("p3", "a/a1", "a/a1")]
    assert compute_metrics(rows, TAXONOMY)["n_gold_outside_taxonomy"] == 2


def test_no_gold_labels_gives_counts_and_no_scores():
    rows = [row("p1", "", "a/a1"), row("p2", "", "", "error", "timeout")]
    metrics = compute_metrics(rows)
    assert metrics["accuracy"] is None and metrics["category_f1_macro"] is None
    assert (metrics["n_rows"], metrics["n_gold"], metrics["n_scored"]) == (2, 0, 0)
    assert metrics["status_counts"] == {"ok": 1, "invalid": 0, "error": 1, "not_run": 0}
    assert metrics["per_category"] == {}
    assert confusion_matrix(rows).shape == (0, 1)


def test_unknown_status_is_a_one_line_input_error():
    with pytest.raises(InputError, match=r"^product 'p1': unknown status 'done' \(expected one of ok, invalid"):
        compute_metrics([row("p1", "a/a1", "a/a1", status="done")])


COLUMNS = ["product_id", "title", "category", "subcategory", "raw_response", "model_used", "status", "error_type",
           "error", "latency_ms", "confidence", "call_id", "expected_category", "expected_subcategory", "correct"]
TAXONOMY_XML = """<?xml version="1.0" encoding="UTF-8"?>
<taxonomy name="t" version="1">
  <category id="b" name="Bees"><subcategory id="b1" name="B one"/></category>
  <category id="a" name="Aces"><subcategory id="a1" name="A one"/><subcategory id="a2" name="A two"/></category>
</taxonomy>
"""


def test_write_metrics_reads_the_run_folder_and_writes_both_files(tmp_path):
    (tmp_path / "outputs").mkdir()
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "taxonomy.xml").write_text(TAXONOMY_XML, encoding="utf-8")
    rows = [  # ids that pandas would turn into numbers or NaN, a title CSV must quote
        ["007", 'Whey "Gold", 5 lb', "a", "a1", "{}", "m", "ok", "", "", "812.5", "0.9", "c1", "a", "a1", "True"],
        ["NA", "Creatine", "a", "a2", "{}", "m", "ok", "", "", "812.5", "", "c1", "b", "b1", "False"],
        ["p3", "Bar", "", "", "", "m", "error", "timeout", "timed out", "0", "", "c2", "b", "b1", "False"],
    ]
    with open(tmp_path / "outputs" / "classifications.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([COLUMNS, *rows])
    metrics = write_metrics(tmp_path)
    # 3 scored rows, only "007" right: accuracy 1/3. Category a: support 1, predicted 2, TP 1.
    assert (metrics["accuracy"], metrics["n_scored"], metrics["n_failed"]) == (0.333333, 3, 1)
    assert list(metrics["per_category"]) == ["b", "a"]  # taxonomy.xml order
    assert metrics["per_category"]["a"] == {"name": "Aces", "precision": 0.5, "recall": 1.0, "f1": 0.666667,
                                            "support": 1, "predicted": 2, "subcategory_accuracy": 1.0}
    text = (tmp_path / "outputs" / "metrics.json").read_text(encoding="utf-8")
    assert text == json.dumps(metrics, sort_keys=True, indent=2) + "\n"
    # gold b: "NA" -> a, p3 failed; gold a: "007" -> a
    assert (tmp_path / "outputs" / "confusion_matrix.csv").read_text(encoding="utf-8") == (
        "gold,b,a,(none)\nb,0,1,1\na,0,1,0\n"
    )


def test_write_metrics_without_classifications_names_the_file(tmp_path):
    with pytest.raises(InputError, match=r"classifications\.csv: not found"):
        write_metrics(tmp_path)
