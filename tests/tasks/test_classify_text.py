"""classify-text end to end: the real run_classify_text CLI and SDKs against the fake API on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT
from labnb.flat.items import load_items
from labnb.flat.labels import load_labels

SAMPLE = ROOT / "data" / "sample_reviews.csv"
SENTIMENT = ROOT / "config" / "labels" / "sentiment.yaml"
LABEL_IDS = load_labels(SENTIMENT).ids
COLUMNS = ["item_id", "text", "label", "raw_response", "model_used", "status", "error_type", "error", "latency_ms",
           "confidence", "call_id"]
RUN_FILES = {
    "inputs/items.json", "inputs/labels.yaml", "inputs/prompt_templates.json",
    "config/models.yaml", "config/run_config.json", "config/system_info.json",
    "outputs/classifications.csv", "outputs/token_usage.json", "outputs/timing.json", "outputs/errors.log",
    "outputs/calls.jsonl", "outputs/calls_sent.jsonl", "metadata/run_summary.json", "metadata/.lock",
}
GOLD_FILES = {"outputs/metrics.json", "outputs/confusion_matrix.csv"}


def plant(fake_api, answers: dict[str, str]) -> None:
    """Make the fake answer label id ``answers[text]`` for each text (label number = position + 1)."""
    fake_api.taxonomy_pairs = [(label_id, "") for label_id in LABEL_IDS]
    fake_api.labels = {text: (label_id, "") for text, label_id in answers.items()}


def gold() -> dict[str, str]:
    return {item.text: item.expected_label for item in load_items(SAMPLE)}


def files_of(run_dir: Path) -> set[str]:
    return {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}


def read_table(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)


def calls_of(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "outputs" / "calls.jsonl").read_text().splitlines()]


def test_single_text_with_the_default_model_writes_the_run_folder(text_cli, fake_api):
    plant(fake_api, {"Arrived late but works great": "mixed"})
    result = text_cli("--single-text", "Arrived late but works great")
    assert result.code == 0, result.err
    run = result.run_dir
    assert run.name.startswith("sentiment-") and len(run.name) == len("sentiment-2026-11-28-093000")
    assert files_of(run) == RUN_FILES
    assert (run / "outputs" / "classifications.csv").read_text().splitlines()[0] == ",".join(COLUMNS)
    table = read_table(run)
    assert table[["item_id", "text", "label", "model_used", "status"]].values.tolist() == [
        ["t0001", "Arrived late but works great", "mixed", "openai/gpt-4o-mini", "ok"]]
    assert json.loads(table.loc[0, "raw_response"]) == {"n": 1, "k": 4}
    assert (run / "inputs" / "labels.yaml").read_bytes() == SENTIMENT.read_bytes()
    assert json.loads((run / "inputs" / "items.json").read_text()) == [
        {"item_id": "t0001", "text": "Arrived late but works great"}]
    templates = json.loads((run / "inputs" / "prompt_templates.json").read_text())
    assert templates["label_codes"] == {"1": "positive", "2": "negative", "3": "neutral", "4": "mixed"}
    body = fake_api.requests_to("/v1/chat/completions")[0]["json"]
    assert body["messages"][0]["content"] == templates["rendered_system_prompt"]
    assert body["messages"][1]["content"] == "Label this text:\n1. Arrived late but works great"
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["r"]["items"]["properties"]["k"]["enum"] == [1, 2, 3, 4]
    served, usage = fake_api.total_usage(), result.json("outputs/token_usage.json")
    assert (usage["total_prompt_tokens"], usage["total_completion_tokens"], usage["calls_made"]) == (
        served["input_tokens"], served["output_tokens"], 1)
    assert usage["cost_usd"] == pytest.approx(served["input_tokens"] * 0.15e-6 + served["output_tokens"] * 0.6e-6)
    assert result.json("outputs/timing.json")["items_processed"] == 1
    summary = result.json("metadata/run_summary.json")
    assert summary["status"] == "completed" and summary["counts"] == {"ok": 1, "invalid": 0, "error": 0,
                                                                      "not_run": 0, "total": 1}
    for name, digest in summary["file_sha256"].items():
        assert hashlib.sha256((run / name).read_bytes()).hexdigest() == digest
    answer, line = result.out.strip().split("\n")
    label, confidence = pd.read_csv(run / "outputs" / "classifications.csv", dtype=str).loc[0, ["label", "confidence"]]
    name = next(lab.name for lab in load_labels(SENTIMENT).labels if lab.id == label)
    # the label's name, as a reader wants it, and the model's confidence (a column the framework owns)
    assert answer == f"Arrived late but works great → {name} (confidence {float(confidence):.2f})"
    assert line.startswith("completed: 1 classified, 0 failed") and str(run) in line


@pytest.mark.parametrize("model, batch_size, path", [("haiku", 5, "/v1/messages"),
                                                      ("gpt4o_mini", 1, "/v1/chat/completions")])
def test_sample_reviews_with_gold_score_exactly(text_cli, fake_api, model, batch_size, path):
    answers = gold()
    items = load_items(SAMPLE, limit=20)
    wrong = items[3]  # answered wrong on purpose
    answers[wrong.text] = next(i for i in LABEL_IDS if i != wrong.expected_label)
    plant(fake_api, answers)
    fake_api.cache_min_tokens = 100  # a four-label prompt is below the providers' real minimum
    result = text_cli("--model", model, "--input", str(SAMPLE), "--limit", "20", "--batch-size", str(batch_size),
                      "--concurrency", "4")
    assert result.code == 0, result.err
    run = result.run_dir
    assert files_of(run) == RUN_FILES | GOLD_FILES
    table = read_table(run)
    assert list(table.columns) == [*COLUMNS, "expected_label", "correct"]
    assert table["item_id"].tolist() == [i.item_id for i in items]  # input order, one row each
    assert table["text"].tolist() == [i.text for i in items]  # commas and quotes round-trip
    assert table["label"].tolist() == [answers[i.text] for i in items]
    assert table["correct"].tolist() == ["False" if i is wrong else "True" for i in items]
    assert len(calls_of(run)) == 20 // batch_size == len(fake_api.requests_to(path))
    metrics = result.json("outputs/metrics.json")
    assert (metrics["accuracy"], metrics["n_scored"], metrics["n_correct"]) == (0.95, 20, 19)
    assert set(metrics["per_label"]) == {x.expected_label for x in items}
    assert metrics["per_label"][wrong.expected_label]["recall"] < 1
    matrix = pd.read_csv(run / "outputs" / "confusion_matrix.csv", index_col=0)
    assert int(matrix.values.sum()) == 20 and int(matrix.values.trace()) == 19
    assert "accuracy 95.0%" in result.out
    usage, served = result.json("outputs/token_usage.json"), fake_api.total_usage()
    assert (usage["total_prompt_tokens"], usage["total_completion_tokens"]) == (served["input_tokens"],
                                                                                served["output_tokens"])
    if model == "haiku":
        assert usage["cached_prompt_tokens"] == served["cached_tokens"] > 0  # the label listing is cached
        first = fake_api.requests_to(path)[0]["json"]
        assert first["system"][0]["cache_control"] == {"type": "ephemeral"}
        assert first["messages"][0]["content"].startswith("Label these 5 texts:\n1. ")
    assert result.json("outputs/timing.json")["items_processed"] == 20


def test_gold_as_names_text_column_explain_and_unknown_gold_warning(text_cli, fake_api, tmp_path):
    path = tmp_path / "tickets.tsv"
    path.write_text("review\texpected_label\tstars\nLove it\tPositive\t5\nMeh\tso-so\t3\n", encoding="utf-8")
    plant(fake_api, {"Love it": "positive", "Meh": "neutral"})
    result = text_cli("--input", str(path), "--text-column", "review", "--explain")
    assert result.code == 0, result.err
    assert result.err.splitlines()[0] == ("warning: 1 gold label(s) name no label of the label set and can never "
                                          "be matched: 'so-so'")
    table = read_table(result.run_dir)
    assert table[["item_id", "text", "label", "expected_label", "correct"]].values.tolist() == [
        ["t0001", "Love it", "positive", "positive", "True"], ["t0002", "Meh", "neutral", "so-so", "False"]]
    assert json.loads(table.loc[0, "raw_response"]) == {"n": 1, "k": 1, "why": "fake reason"}
    metrics = result.json("outputs/metrics.json")
    assert (metrics["accuracy"], metrics["n_gold_outside_labels"]) == (0.5, 1)
    items = json.loads((result.run_dir / "inputs" / "items.json").read_text())
    assert items[0] == {"item_id": "t0001", "text": "Love it", "expected_label": "positive",
                        "extra": {"stars": "5"}}
    body = fake_api.requests_to("/v1/chat/completions")[0]["json"]
    assert "5" not in body["messages"][1]["content"].split("\n", 1)[1]  # other columns are not shown


def test_invalid_label_is_kept_and_exits_1(text_cli, fake_api):
    from fakeapi import Fault

    fake_api.faults = [Fault("invalid_label")]  # k = 4 + 100
    result = text_cli("--single-text", "Broke in a week")
    assert result.code == 1
    row = read_table(result.run_dir).iloc[0]
    assert (row["status"], row["error_type"], row["label"]) == ("invalid", "invalid_label", "")
    assert json.loads(row["raw_response"])["k"] == 104
    assert "k=104 is not a label number of the label set" in row["error"]


def test_retry_failed_and_replay(text_cli, fake_api):
    from fakeapi import Fault

    plant(fake_api, gold())
    fake_api.faults = [None, Fault("status", status=500), Fault("status", status=500), Fault("status", status=500)]
    first = text_cli("--input", str(SAMPLE), "--limit", "3", "--concurrency", "1")
    assert first.code == 1
    run = first.run_dir
    assert read_table(run)["status"].tolist() == ["ok", "error", "ok"]
    again = text_cli("--retry-failed", str(run))
    assert again.code == 0, again.err
    after = read_table(run)
    assert set(after["status"]) == {"ok"} and after["label"].tolist() == [i.expected_label
                                                                           for i in load_items(SAMPLE, limit=3)]
    assert calls_of(run)[-1]["item_ids"] == [after.loc[1, "item_id"]]
    replayed = text_cli("--replay", str(run), "--model", "haiku")
    assert replayed.code == 0, replayed.err
    new = replayed.run_dirs[-1]
    assert new != run and new.name.startswith("sentiment-")
    assert (new / "inputs" / "labels.yaml").read_bytes() == SENTIMENT.read_bytes()
    assert read_table(new)["label"].tolist() == after["label"].tolist()


def test_dry_run_counts_and_sends_nothing(text_cli, fake_api, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    result = text_cli("--input", str(SAMPLE), "--batch-size", "10", "--dry-run")
    assert result.code == 0, result.err
    assert fake_api.requests == [] and result.run_dirs == []
    lines = result.out.splitlines()
    assert lines[0] == "dry run: 80 items, batch size 10, label set 'sentiment' (4 labels); nothing was sent"
    assert lines[2].split()[:2] == ["gpt4o_mini", "8"]


def test_a_custom_label_set_names_the_run_and_is_snapshot_byte_for_byte(text_cli, fake_api, tmp_path):
    labels = tmp_path / "tickets.yaml"
    labels.write_text("# support queue\nname: tickets\nversion: 1.10\nlabels:\n  - {id: billing, name: Billing}\n"
                      "  - {id: bug, name: Bug, description: Something is broken}\n", encoding="utf-8")
    fake_api.taxonomy_pairs = [("billing", ""), ("bug", "")]
    fake_api.labels = {"The export button does nothing": ("bug", "")}
    result = text_cli("--labels", str(labels), "--single-text", "The export button does nothing")
    assert result.code == 0, result.err
    run = result.run_dir
    assert run.name.startswith("tickets-") and (run / "inputs" / "labels.yaml").read_bytes() == labels.read_bytes()
    assert read_table(run)[["label", "raw_response"]].values.tolist() == [["bug", '{"n":1,"k":2}']]
    assert "  1: Billing\n  2: Bug - Something is broken\n" in json.loads(
        (run / "inputs" / "prompt_templates.json").read_text())["rendered_system_prompt"]


def test_compare_models_prices_every_alias(text_cli, fake_api):
    result = text_cli("--input", str(SAMPLE), "--limit", "10", "--dry-run", "--compare-models")
    assert result.code == 0, result.err
    assert fake_api.requests == [] and result.run_dirs == []
    rows = {line.split()[0]: line.split() for line in result.out.splitlines()[2:-1]}
    assert list(rows) == ["gpt4o_mini", "gpt4_turbo", "gpt4o", "haiku", "sonnet", "opus", "local"]
    assert rows["local"][5] == "0.000000"


LABELS_BAD = "name: s\nversion: &v 1\nlabels:\n  - {id: a, name: A}\n"
CASES = [
    ("alias in labels", {"l.yaml": LABELS_BAD}, ["--labels", "{d}/l.yaml", "--single-text", "x"],
     "line 2: YAML anchors and aliases are not allowed"),
    ("labels missing", {}, ["--labels", "{d}/none.yaml", "--single-text", "x"], "labels file not found"),
    ("empty text", {"t.csv": "text\nGood\n\"  \"\n"}, ["--input", "{d}/t.csv"], "line 3: empty text"),
    ("no text column", {"t.csv": "review\nGood\n"}, ["--input", "{d}/t.csv"], "missing required column 'text'"),
    ("duplicate ids", {"t.csv": "id,text\n1,A\n1,B\n"}, ["--input", "{d}/t.csv"], "line 3: duplicate id '1'"),
    ("empty single text", {}, ["--single-text", "  "], "--single-text: the text is empty"),
    ("both inputs", {"t.csv": "text\nA\n"}, ["--input", "{d}/t.csv", "--single-text", "x"],
     "give exactly one of --single-text TEXT or --input FILE"),
]


@pytest.mark.parametrize("name, files, args, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_no_folder(text_cli, tmp_path, name, files, args, message):
    for file_name, content in files.items():
        (tmp_path / file_name).write_text(content, encoding="utf-8")
    result = text_cli(*[a.format(d=tmp_path) for a in args])
    assert result.code == 2
    assert result.err.count("\n") == 1 and result.err.startswith("error: ") and message in result.err, result.err
    assert result.run_dirs == []


def test_analysis_lists_compares_and_reports_classify_text_runs(text_cli, cli, fake_api, tmp_path, capsys):
    import analyze_runs
    from labnb.analysis.compare import compare_runs
    from labnb.analysis.runs import load_run, load_runs

    items = load_items(SAMPLE, limit=6)
    plant(fake_api, gold())
    first = text_cli("--input", str(SAMPLE), "--limit", "6").run_dir
    answers = gold()
    answers[items[0].text] = answers[items[5].text] = "mixed" if items[0].expected_label != "mixed" else "neutral"
    plant(fake_api, answers)
    second = text_cli("--model", "haiku", "--input", str(SAMPLE), "--limit", "6").run_dir
    listed = load_runs(text_cli.runs_dir).set_index("run_id")
    assert listed.loc[[first.name, second.name], ["use_case", "items", "accuracy"]].values.tolist() == [
        ["classify-text", 6, 1.0], ["classify-text", 6, round(4 / 6, 6)]]
    comparison = compare_runs([load_run(first), load_run(second)])
    assert comparison.pairs[["n_both", "n_agree", "agreement"]].values.tolist() == [[6, 4, round(4 / 6, 6)]]
    assert comparison.disagreements.columns.tolist() == ["item_id", "text", first.name, second.name, "gold"]
    assert comparison.disagreements["item_id"].tolist() == [items[0].item_id, items[5].item_id]
    report = tmp_path / "report.html"
    capsys.readouterr()
    assert analyze_runs.main(["report", str(first), str(second), "-o", str(report)]) == 0
    assert first.name in report.read_text() and second.name in report.read_text()
    products = next(d for d in cli("--single-product", "Zinc 50 mg").run_dirs if d.name.startswith("assign-cat-"))
    assert analyze_runs.main(["compare", str(first), str(products)]) == 2
    assert capsys.readouterr().err == (f"error: cannot compare runs of different use cases: {first.name} is "
                                       f"classify-text, {products.name} is assign-cat\n")


def test_python_api_runs_a_dataframe(api_env, fake_api, tmp_path):
    from classify_text.task import ClassifyText
    from conftest import write_models_yaml
    from labnb.api import run

    frame = pd.DataFrame({"id": ["a", "b"], "body": ["Love it, 10/10", "Broke, refund please"],
                          "expected_label": ["Positive", "negative"]})
    plant(fake_api, {"Love it, 10/10": "positive", "Broke, refund please": "negative"})
    df = run(ClassifyText(), frame, model="haiku", text_column="body", runs_dir=str(tmp_path / "runs"),
             models_config=str(write_models_yaml(tmp_path / "m.yaml")))
    assert df[["item_id", "text", "label", "expected_label", "correct"]].values.tolist() == [
        ["a", "Love it, 10/10", "positive", "positive", True], ["b", "Broke, refund please", "negative", "negative",
                                                                True]]
    assert df.attrs["metrics"]["accuracy"] == 1.0 and Path(df.attrs["path"]).name.startswith("sentiment-")
