"""classify-text on the framework's long paths: kill -9 and resume, provider batch APIs, the local model."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pandas as pd
import pytest
from fakeapi import FakeAPIServer
from test_classify_text import GOLD_FILES, RUN_FILES, SAMPLE, calls_of, files_of, gold, plant, read_table

from conftest import ROOT, subprocess_env, write_models_yaml
from labnb.flat.items import load_items
from run.test_crash_resume import lines, served_usage_of, wait_for_calls

ENTRY = ROOT / "src" / "run_classify_text.py"
IDS = [item.item_id for item in load_items(SAMPLE)]


def test_kill_9_then_resume_gives_every_item_once(tmp_path):
    with FakeAPIServer(api_key="test-key-0123456789abcdef", latency=0.05) as server:
        plant(server, gold())
        models, runs = write_models_yaml(tmp_path / "m.yaml"), tmp_path / "runs"
        process = subprocess.Popen(
            [sys.executable, str(ENTRY), "--input", str(SAMPLE), "--batch-size", "2", "--concurrency", "4",
             "--models-config", str(models), "--runs-dir", str(runs)],
            env=subprocess_env(server), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        run = wait_for_calls(runs, 6, process, prefix="sentiment-")
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert json.loads((run / "metadata" / "run_summary.json").read_text())["status"] == "running"
        partial = pd.read_csv(run / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
        assert partial["item_id"].is_unique and set(partial["item_id"]) < set(IDS)
        final = subprocess.run([sys.executable, str(ENTRY), "--resume", str(run)], env=subprocess_env(server),
                               capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stderr
        assert final.stdout.startswith("completed: 80 classified, 0 failed | accuracy 100.0% | ")
        table = read_table(run)
        assert table["item_id"].tolist() == IDS and set(table["status"]) == {"ok"}
        assert table["label"].tolist() == table["expected_label"].tolist()
        calls = lines(run / "outputs" / "calls.jsonl")
        usage = json.loads((run / "outputs" / "token_usage.json").read_text())
        assert (usage["total_prompt_tokens"], usage["total_completion_tokens"]) == served_usage_of(server, calls)
        assert usage["calls_made"] + usage["calls_unsettled"] == len(calls) == len({c["call_id"] for c in calls})
        assert usage["calls_unsettled"] == sum(c["status"] == "unsettled" for c in calls)  # in flight at the kill
        answered = [i for c in calls if c["status"] == "ok" for i in c["item_ids"]]
        assert set(answered) == set(IDS)
        # An answer whose call was recorded but whose row the kill lost is asked again on resume (its call is
        # still recorded once); an item that had its row is never asked again. At most 4 requests x 2 items.
        twice = {i for i in answered if answered.count(i) > 1}
        assert not twice & set(partial["item_id"]) and len(twice) <= 8
        summary = json.loads((run / "metadata" / "run_summary.json").read_text())
        assert summary["status"] == "completed" and [r["mode"] for r in summary["resumes"]] == ["resume"]
        assert json.loads((run / "outputs" / "timing.json").read_text())["items_processed"] == 80


@pytest.mark.parametrize("model, provider", [("gpt4o_mini", "openai"), ("haiku", "anthropic")])
def test_batch_api_submit_then_collect_at_batch_prices(text_cli, fake_api, monkeypatch, model, provider):
    monkeypatch.setenv("LABNB_BATCH_POLL_SECONDS", "0.02")
    plant(fake_api, gold())
    fake_api.batch_polls_to_finish = 2
    submitted = text_cli("--model", model, "--input", str(SAMPLE), "--limit", "10", "--batch-size", "5",
                         "--batch-api")
    assert submitted.code == 0, submitted.err
    run = submitted.run_dir
    assert submitted.out == (f"submitted: 1 batch (2 requests) to {provider} | collect with: "
                             f"python src/run_classify_text.py --resume {run}\n")
    assert fake_api.usage_log == []  # nothing answered yet
    collected = text_cli("--resume", str(run))
    assert collected.code == 0, collected.err
    assert collected.out.startswith("completed: 10 classified, 0 failed | accuracy 100.0% | ")
    assert files_of(run) - {p for p in files_of(run) if p.startswith("outputs/batch/")} == RUN_FILES | GOLD_FILES
    table = read_table(run)
    assert table["item_id"].tolist() == IDS[:10] and table["call_id"].tolist() == ["c000001"] * 5 + ["c000002"] * 5
    calls = calls_of(run)
    assert [(c["attempt"], c["item_ids"]) for c in calls] == [("batch", IDS[:5]), ("batch", IDS[5:10])]
    entries = [e for e in fake_api.usage_log if e["batch"]]
    usage = json.loads((run / "outputs" / "token_usage.json").read_text())
    assert len(entries) == 2 and usage["batch_pricing"] is True
    assert (usage["total_prompt_tokens"], usage["total_completion_tokens"]) == (
        sum(e["input_tokens"] for e in entries), sum(e["output_tokens"] for e in entries))


def test_local_model_on_the_sample_reviews(text_cli, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    result = text_cli("--model", "local", "--input", str(SAMPLE))
    assert result.code == 0, result.err
    run = result.run_dir
    assert files_of(run) == RUN_FILES | GOLD_FILES
    table = read_table(run)
    assert table["item_id"].tolist() == IDS and set(table["status"]) == {"ok"}
    assert set(table["model_used"]) == {"local/all-MiniLM-L6-v2"}
    for _, row in table.iterrows():
        top = json.loads(row["raw_response"])["top"]
        assert len(top) == 3 and top[0]["label"] == row["label"]
    metrics = result.json("outputs/metrics.json")
    # A sentence-embedding model reads topic more than opinion: a weak baseline on four sentiment labels
    # (chance 25%, always-"positive" 27.5%). The ONNX encoder (main's local branch) answers 26 right as the torch
    # one did, with a different spread over the labels: macro F1 0.318041 (was 0.324098; main fails it too).
    assert (metrics["accuracy"], metrics["f1_macro"], metrics["n_correct"]) == (0.325, 0.318041, 26)
    assert result.json("outputs/token_usage.json")["cost_usd"] == 0
    assert "accuracy 32.5%" in result.out
