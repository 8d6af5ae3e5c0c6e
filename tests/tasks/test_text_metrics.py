"""classify-text metrics checked against numbers computed by hand (see the comments)."""

from __future__ import annotations

import csv
import json

import pytest

from conftest import ROOT
from labnb.errors import InputError
from labnb.flat.labels import load_labels
from labnb.flat.metrics import compute_metrics, confusion_matrix, write_metrics

LABELS = load_labels(ROOT / "config" / "labels" / "sentiment.yaml")


def row(item_id, gold, label, status="ok", error_type=""):
    return {"item_id": item_id, "text": f"Text {item_id}", "label": label, "status": status,
            "error_type": error_type, "expected_label": gold}


#   t1  gold positive -> positive  ok       right
#   t2  gold positive -> negative  ok       wrong
#   t3  gold negative -> negative  ok       right
#   t4  gold negative -> error              failed: predicted (none)
#   t5  gold neutral  -> neutral   ok       right
#   t6  gold neutral  -> invalid            failed: its label must not count
#   t7  gold mixed    -> positive  ok       wrong
#   t8  gold positive -> not_run            never attempted: left out of every score
#   t9  no gold       -> positive  ok       not scored
#   t10 gold great    -> positive  ok       gold outside the label set: can never be right
ROWS = [
    row("t1", "positive", "positive"), row("t2", "positive", "negative"), row("t3", "negative", "negative"),
    row("t4", "negative", "", "error", "timeout"), row("t5", "neutral", "neutral"),
    row("t6", "neutral", "made-up", "invalid", "invalid_label"), row("t7", "mixed", "positive"),
    row("t8", "positive", "", "not_run", "not_run"), row("t9", "", "positive"), row("t10", "great", "positive"),
]
# Scored: t1-t7 and t10 = 8; right: t1 t3 t5 = 3 -> 0.375; answered (ok) scored: 6 -> 3/6 = 0.5.
#   positive: support 2, predicted 3 (t1 t7 t10), TP 1 -> P 1/3, R 1/2, F1 0.4
#   negative: support 2, predicted 2 (t2 t3), TP 1 -> P 1/2, R 1/2, F1 0.5
#   neutral:  support 2, predicted 1, TP 1 -> P 1, R 1/2, F1 2/3
#   mixed:    support 1, predicted 0 -> 0;  great: support 1, predicted 0 -> 0
#   macro = (0.4 + 0.5 + 2/3 + 0 + 0) / 5 = 0.3133333…; weighted = (2*0.4 + 2*0.5 + 2*2/3) / 8 = 0.3916666…
PER_LABEL = {
    "positive": {"precision": 0.333333, "recall": 0.5, "f1": 0.4, "support": 2, "predicted": 3},
    "negative": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2, "predicted": 2},
    "neutral": {"precision": 1.0, "recall": 0.5, "f1": 0.666667, "support": 2, "predicted": 1},
    "mixed": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 0},
    "great": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 0},
}
EXPECTED = {
    "accuracy": 0.375, "answered_accuracy": 0.5, "f1_macro": 0.313333, "f1_weighted": 0.391667,
    "n_rows": 10, "n_gold": 9, "n_scored": 8, "n_ok": 6, "n_correct": 3, "n_failed": 2, "n_invalid": 1,
    "n_error": 1, "n_not_run": 1, "n_gold_outside_labels": None,
    "status_counts": {"ok": 7, "invalid": 1, "error": 1, "not_run": 1},
    "error_type_counts": {"invalid_label": 1, "not_run": 1, "timeout": 1},
}


def test_metrics_match_hand_computed_values():
    # without a label set, classes are sorted by id
    assert compute_metrics(ROWS) == {**EXPECTED, "per_label": {k: PER_LABEL[k] for k in sorted(PER_LABEL)}}


def test_label_set_gives_order_names_and_counts_gold_outside_it():
    metrics = compute_metrics(ROWS, LABELS)
    assert list(metrics["per_label"]) == ["positive", "negative", "neutral", "mixed", "great"]
    assert metrics["per_label"]["neutral"] == {**PER_LABEL["neutral"], "name": "Neutral"}
    assert metrics["per_label"]["great"] == PER_LABEL["great"]  # no name: not a label
    assert metrics["n_gold_outside_labels"] == 1
    assert {k: v for k, v in metrics.items() if k != "per_label"} == {**EXPECTED, "n_gold_outside_labels": 1}


def test_confusion_matrix_puts_failures_in_the_none_column():
    matrix = confusion_matrix(ROWS, LABELS)
    assert matrix.index.tolist() == ["positive", "negative", "neutral", "mixed", "great"]
    assert matrix.columns.tolist() == ["positive", "negative", "neutral", "mixed", "great", "(none)"]
    assert matrix.values.tolist() == [[1, 1, 0, 0, 0, 0], [0, 1, 0, 0, 0, 1], [0, 0, 1, 0, 0, 1],
                                      [1, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0]]


def test_no_gold_gives_counts_and_no_scores():
    metrics = compute_metrics([row("a", "", "positive"), row("b", "", "", "error", "timeout")], LABELS)
    assert (metrics["accuracy"], metrics["f1_macro"], metrics["per_label"]) == (None, None, {})
    assert (metrics["n_rows"], metrics["n_gold"], metrics["n_scored"], metrics["n_gold_outside_labels"]) == (2, 0, 0, 0)
    assert confusion_matrix([row("a", "", "positive")]).shape == (0, 1)


def test_unknown_status_names_the_item():
    with pytest.raises(InputError, match=r"^item 't1': unknown status 'done' \(expected one of ok, invalid"):
        compute_metrics([row("t1", "positive", "positive", status="done")])


def test_write_metrics_scores_the_run_folder_table(tmp_path):
    (tmp_path / "outputs").mkdir()
    columns = ["item_id", "text", "label", "raw_response", "model_used", "status", "error_type", "error",
               "latency_ms", "call_id", "expected_label", "correct"]
    rows = [["007", 'Says "fine, really"', "neutral", "{}", "m", "ok", "", "", "5", "c1", "neutral", "True"],
            ["NA", "Bad", "positive", "{}", "m", "ok", "", "", "5", "c1", "negative", "False"]]
    with open(tmp_path / "outputs" / "classifications.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([columns, *rows])
    metrics = write_metrics(tmp_path, LABELS)
    assert (metrics["accuracy"], metrics["n_scored"], list(metrics["per_label"])) == (
        0.5, 2, ["positive", "negative", "neutral"])
    text = (tmp_path / "outputs" / "metrics.json").read_text(encoding="utf-8")
    assert text == json.dumps(metrics, sort_keys=True, indent=2) + "\n"
    assert (tmp_path / "outputs" / "confusion_matrix.csv").read_text(encoding="utf-8") == (
        "gold,positive,negative,neutral,(none)\nnegative,1,0,0,0\nneutral,0,0,1,0\n")


def test_write_metrics_without_classifications_names_the_file(tmp_path):
    with pytest.raises(InputError, match=r"classifications\.csv: not found \(is .* a run folder\?\)"):
        write_metrics(tmp_path, LABELS)
