"""A flat label set is data: `labnb run classify --labels FILE` runs the intent label set (a YAML file and a CSV
of support tickets, no Python) with the local model and through the fake API, with several text columns, the id
and gold columns chosen by option and the other columns carried along."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import ROOT, in_process_cli
from labnb.errors import InputError
from labnb.flat.items import TextColumns, TextItem, load_items
from labnb.flat.labels import load_labels

INTENT = ROOT / "config" / "labels" / "intent.yaml"
TICKETS = ROOT / "data" / "sample_tickets.csv"
COLUMNS = ["item_id", "text", "label", "raw_response", "model_used", "status", "error_type", "error", "latency_ms",
           "confidence", "call_id", "expected_label", "correct", "channel"]
BOTH = ("--text-column", "subject", "--text-column", "body")


@pytest.fixture
def labnb_cli(api_env, tmp_path, capsys):
    from labnb.cli import main

    return in_process_cli(main, tmp_path, capsys)


def read_table(run_dir) -> pd.DataFrame:
    return pd.read_csv(run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)


def tickets() -> pd.DataFrame:
    return pd.read_csv(TICKETS, dtype=str, keep_default_na=False)


def test_the_shipped_intent_label_set_and_its_sixty_tickets():
    labels = load_labels(INTENT)
    assert (labels.name, labels.ids) == ("intent", ["billing", "refund", "shipping", "account_access", "bug_report",
                                                    "feature_request", "cancellation", "other"])
    data = tickets()
    assert list(data.columns) == ["id", "channel", "subject", "body", "expected_label"] and len(data) == 60
    assert set(data["expected_label"]) == set(labels.ids) and data["id"].is_unique
    assert data["expected_label"].value_counts().min() >= 7  # every intent has enough to score


def test_text_columns_are_joined_named_in_the_order_given_and_id_and_gold_are_options(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("ref,Subject,body,intent,team\nA1,Refund?,I want my money back,refund,north\n"
                    "A2,,Cannot log in,account_access,\n", encoding="utf-8")
    items = load_items(path, TextColumns(("body", "subject"), id="ref", gold="intent"))
    assert items == [TextItem("A1", "body: I want my money back | subject: Refund?", "refund", {"team": "north"}),
                     TextItem("A2", "body: Cannot log in", "account_access")]
    with pytest.raises(InputError) as caught:
        load_items(path, TextColumns(("body", "title")))
    assert str(caught.value) == f"{path}: no column 'title' (--text-column)"
    empty = tmp_path / "e.csv"
    empty.write_text("id,subject,body\n1,Hi,there\n2,, \n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_items(empty, TextColumns(("subject", "body")))
    assert str(caught.value) == f"{empty}: line 3: empty subject and body"


def test_intent_tickets_with_the_local_model(labnb_cli):
    result = labnb_cli("run", "classify", "--model", "local", "--labels", str(INTENT), "--input", str(TICKETS),
                       *BOTH)
    assert result.code == 0, result.err
    run = result.run_dir
    assert run.name.startswith("intent-") and len(run.name) == len("intent-2026-12-06-093000")
    table, data = read_table(run), tickets()
    assert list(table.columns) == COLUMNS
    assert table["item_id"].tolist() == data["id"].tolist()
    assert table["text"].tolist() == [f"subject: {s} | body: {b}" for s, b in zip(data["subject"], data["body"])]
    assert table["channel"].tolist() == data["channel"].tolist()  # carried, never shown to a model
    assert table["expected_label"].tolist() == data["expected_label"].tolist()
    assert set(table["status"]) == {"ok"} and set(table["label"]) <= set(load_labels(INTENT).ids)
    assert table["correct"].tolist() == [str(a == b) for a, b in zip(table["label"], table["expected_label"])]
    assert all(0 < float(c) <= 1 for c in table["confidence"])
    metrics = json.loads((run / "outputs" / "metrics.json").read_text())
    n_correct = int((table["correct"] == "True").sum())
    assert (metrics["n_correct"], metrics["accuracy"]) == (n_correct, round(n_correct / 60, 6))
    assert set(metrics["per_label"]) == set(load_labels(INTENT).ids)
    assert f"completed: 60 classified, 0 failed | accuracy {n_correct / 60:.1%}" in result.out


def test_intent_tickets_through_the_fake_api_in_batches(labnb_cli, fake_api):
    data = tickets()
    wrong = {"tk001": "refund", "tk020": "other", "tk045": "billing"}  # three answers the model gets wrong
    ids = load_labels(INTENT).ids
    fake_api.taxonomy_pairs = [(label_id, "") for label_id in ids]
    # the fake answers by the text before the first " | " (here the subject, unique in the file)
    fake_api.labels = {f"subject: {s}": (wrong.get(i, g), "")
                       for i, s, g in zip(data["id"], data["subject"], data["expected_label"])}
    result = labnb_cli("run", "classify", "--model", "gpt4o_mini", "--labels", str(INTENT), "--input",
                       str(TICKETS), *BOTH, "--batch-size", "8")
    assert result.code == 0, result.err
    table = read_table(result.run_dir)
    expected = [wrong.get(i, g) for i, g in zip(data["id"], data["expected_label"])]
    assert table["label"].tolist() == expected
    assert table.loc[table["correct"] == "False", "item_id"].tolist() == ["tk001", "tk020", "tk045"]
    requests = fake_api.requests_to("/v1/chat/completions")
    assert len(requests) == 8  # 60 tickets, 8 a request
    users = [r["json"]["messages"][1]["content"] for r in requests]
    assert sorted(users)[0].startswith("Label these 4 texts:\n1. subject: ")
    lines = sorted(line.split(". ", 1)[1] for user in users for line in user.splitlines()[1:])
    assert lines == sorted(f"subject: {s} | body: {b}" for s, b in zip(data["subject"], data["body"]))
    system = requests[0]["json"]["messages"][0]["content"]
    assert 'Label set "intent" (version 1.0): What the customer who wrote a support ticket wants' in system
    assert "  8: Other - Praise, general questions" in system
    served, usage = fake_api.total_usage(), result.json("outputs/token_usage.json")
    assert (usage["total_prompt_tokens"], usage["total_completion_tokens"], usage["calls_made"]) == (
        served["input_tokens"], served["output_tokens"], 8)
    metrics = result.json("outputs/metrics.json")
    assert (metrics["n_correct"], metrics["accuracy"]) == (57, 0.95)
    assert metrics["per_label"]["billing"]["support"] == 7


def test_classify_needs_a_label_set_and_names_unknown_tasks(labnb_cli):
    result = labnb_cli("run", "classify", "--input", str(TICKETS))
    assert (result.code, result.err) == (2, "error: give the label set with --labels FILE (a YAML file, e.g. "
                                            "config/labels/intent.yaml)\n")
    assert not result.runs_dir.exists()
    result = labnb_cli("run", "sentiment", "--input", str(TICKETS))
    assert result.code == 2 and result.err.startswith("error: unknown task 'sentiment' (registered: assign-cat, "
                                                      "classify, classify-text")
