"""The classify task streamed in this process (--engine process): the rows and metrics of the usual run, a
Parquet input, and what a streamed classify run refuses (one line, no run folder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import yaml

from scale.engines import table
from scale.killing import kill_after_parts
from scale.texts import ROOT, TICKETS, write_texts

COMPARED = ("item_id", "text", "label", "expected_label", "status", "confidence", "correct", "raw_response")


def _folder(result) -> Path:
    return Path(result.out.strip().rsplit(" | ", 1)[-1])


def test_streamed_classify_gives_the_rows_and_metrics_of_the_usual_run(tmp_path, text_cli):
    reviews = tmp_path / "reviews.csv"
    ids = write_texts(reviews, 130, malformed=False)
    parquet = tmp_path / "reviews.parquet"
    pd.read_csv(reviews, dtype=str, keep_default_na=False).to_parquet(parquet, index=False)
    usual = text_cli("--model", "local", "--input", str(reviews), "--runs-dir", str(tmp_path / "usual"))
    assert usual.code == 0, usual.err
    folders = {"usual": _folder(usual)}
    for name, path in (("csv", reviews), ("parquet", parquet)):
        result = text_cli("--model", "local", "--input", str(path), "--engine", "process", "--part-rows", "50",
                          "--runs-dir", str(tmp_path / name))
        assert result.code == 0, result.err
        assert result.out.startswith("completed: 130 classified, 0 failed | accuracy ")
        folders[name] = _folder(result)
        records = [json.loads(x) for x in (folders[name] / "outputs" / "parts.jsonl").read_text().splitlines()]
        assert sorted((r["part"], r["rows"]) for r in records) == [(0, 50), (1, 50), (2, 30)]
    tables = {name: table(folder) for name, folder in folders.items()}
    assert list(tables["usual"]["item_id"]) == ids
    for name in ("csv", "parquet"):
        for column in COMPARED:
            assert list(tables[name][column]) == list(tables["usual"][column]), (name, column)
    metrics = {name: json.loads((f / "outputs" / "metrics.json").read_text()) for name, f in folders.items()}
    # metrics summed from the parts' counts (weighted lines) equal those of every row at once
    assert metrics["csv"] == metrics["parquet"] == metrics["usual"]
    assert metrics["csv"]["n_correct"] == int((tables["usual"]["correct"] == "True").sum())
    matrix = (folders["usual"] / "outputs" / "confusion_matrix.csv").read_text()
    assert (folders["csv"] / "outputs" / "confusion_matrix.csv").read_text() == matrix


def same_labels(folder: Path, labels: str) -> bool:
    """The run's label set is ``labels`` but for its description (which names the input file)."""
    def of(text: str) -> dict:
        return {k: v for k, v in yaml.safe_load(text).items() if k != "description"}

    return of((folder / "inputs" / "labels.yaml").read_text()) == of(labels)


def test_streamed_labels_from_a_column_are_the_usual_runs(tmp_path, text_cli):
    """--labels-from-column streamed: one pass over that column builds the label set the usual run builds (every
    row, first-seen order, --limit or not), the column is the gold and is not carried as a column of its own."""
    tickets = tmp_path / "tickets.csv"
    ids = write_texts(tickets, 90, source=TICKETS, malformed=False)
    frame = pd.read_csv(tickets, dtype=str, keep_default_na=False).rename(columns={"expected_label": "intent"})
    frame.to_csv(tickets, index=False)
    parquet = tmp_path / "tickets.parquet"
    frame.to_parquet(parquet, index=False)
    args = ("--model", "local", "--labels-from-column", "intent", "--text-column", "subject", "--text-column", "body")
    folders = {}
    for name, path, engine in (("usual", tickets, ()), ("csv", tickets, ("--engine", "process", "--part-rows", "40")),
                               ("parquet", parquet, ("--engine", "process", "--part-rows", "40")),
                               ("limited", tickets, ("--engine", "process", "--limit", "10"))):
        result = text_cli(*args, "--input", str(path), *engine, "--runs-dir", str(tmp_path / name))
        assert result.code == 0, (name, result.err)
        folders[name] = _folder(result)
    tables = {name: table(folder) for name, folder in folders.items()}
    assert list(tables["usual"]["item_id"]) == ids and "intent" not in tables["usual"].columns
    labels = (folders["usual"] / "inputs" / "labels.yaml").read_text()
    ids_of = {label["name"]: label["id"] for label in yaml.safe_load(labels)["labels"]}
    assert list(ids_of) == list(dict.fromkeys(frame["intent"])) and ids_of["feature_request"] == "feature-request"
    for name in ("csv", "parquet"):
        assert list(tables[name].columns) == list(tables["usual"].columns), name
        for column in (*COMPARED, "channel", "error_type"):
            assert list(tables[name][column]) == list(tables["usual"][column]), (name, column)
        assert same_labels(folders[name], labels)
        assert json.loads((folders[name] / "outputs" / "metrics.json").read_text()) == json.loads(
            (folders["usual"] / "outputs" / "metrics.json").read_text())
    assert (folders["limited"] / "inputs" / "labels.yaml").read_text() == labels  # every row's labels, not 10's
    assert list(tables["limited"]["item_id"]) == ids[:10]
    assert list(tables["usual"]["expected_label"]) == [ids_of[name] for name in frame["intent"]]


def test_streamed_classify_refuses_in_one_line_without_a_run_folder(tmp_path, text_cli):
    reviews = tmp_path / "reviews.csv"
    write_texts(reviews, 20, malformed=False)
    runs = tmp_path / "runs"
    cases = {
        ("--single-text", "Great!"): ("error: --engine reads an --input file (CSV, TSV, JSONL, Parquet or a "
                                      "directory of Parquet files)"),
        ("--input", str(reviews), "--labels-from-column", "mood"): (
            f"error: --labels-from-column: {reviews} has no column 'mood' (its other columns: expected_label, id, "
            "text)"),
        ("--input", str(reviews), "--text-column", "body"): f"error: {reviews}: no column 'body' (--text-column)",
    }
    for args, message in cases.items():
        result = text_cli("--model", "local", "--engine", "process", *args, "--runs-dir", str(runs))
        assert result.code == 2, result.err
        assert result.err.strip().splitlines()[-1] == message
        assert not runs.exists() or not list(runs.iterdir())


def test_kill_9_then_resume_of_a_streamed_classify_run(tmp_path):
    reviews = tmp_path / "reviews.csv"
    ids = write_texts(reviews, 600, malformed=False)
    runs = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, str(ROOT / "src" / "run_classify_text.py")]
    driver = subprocess.Popen([*command, "--model", "local", "--input", str(reviews), "--engine", "process",
                               "--part-rows", "100", "--runs-dir", str(runs)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = kill_after_parts(driver, runs)
    folder = journal.parents[1]
    before = {json.loads(x)["part"] for x in journal.read_text().splitlines()}
    assert 2 <= len(before) < 6
    done = subprocess.run([*command, "--resume", str(folder)], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("completed: 600 classified, 0 failed | accuracy ")
    records = [json.loads(x) for x in journal.read_text().splitlines()]
    assert {r["part"] for r in records if r["session"] == 1} == before
    assert {r["part"] for r in records if r["session"] == 2} == set(range(6)) - before  # none redone
    rows = table(folder)
    assert list(rows["item_id"]) == ids and set(rows["status"]) == {"ok"}  # each item once, in order


def test_a_parquet_input_streams_without_engine_unless_the_options_cannot(tmp_path, text_cli):
    from labnb.flat.task import Classify, ClassifyOptions
    from labnb.scale.engine import auto_engine

    parquet = tmp_path / "reviews.parquet"
    pd.DataFrame({"id": ["a", "b"], "text": ["Great", "Awful"], "expected_label": ["positive", "negative"]}) \
        .to_parquet(parquet, index=False)
    models = str(text_cli.models)
    streams = ClassifyOptions(model="local", input=str(parquet), labels="config/labels/sentiment.yaml",
                              models_config=models)
    assert auto_engine(Classify(), streams) == "process"
    by_column = ClassifyOptions(model="local", input=str(parquet), labels=None, labels_from_column="expected_label",
                                models_config=models)
    assert auto_engine(Classify(), by_column) == "process"  # one pass over the column first, then the parts
    assert auto_engine(Classify(), replace(streams, explain=True)) is None  # streamed runs refuse --explain
    result = text_cli("--model", "local", "--input", str(parquet), "--labels-from-column", "expected_label",
                      "--runs-dir", str(tmp_path / "runs"))
    assert result.code == 0, result.err
    folder = _folder(result)
    assert (folder / "outputs" / "parts.jsonl").is_file()  # it streamed, as only a streamed run reads Parquet
    assert list(table(folder)["expected_label"]) == ["positive", "negative"]
