"""Issue 19 §8: kill -9 with calls in flight loses none of them: sent calls are on record, settled or unsettled."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
from fakeapi import FakeAPIServer

from conftest import ROOT, TEST_KEY, subprocess_env, taxonomy_pairs, write_models_yaml

SAMPLE = ROOT / "data" / "sample_products.csv"
IDS = pd.read_csv(SAMPLE, dtype=str)["product_id"].tolist()
RUNNER = str(ROOT / "src" / "run_assign_cat.py")
GPT4O_MINI = (0.15, 0.60)  # USD per 1M input / output tokens, config/models.yaml


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_kill_9_with_calls_in_flight_then_resume_counts_every_served_call(tmp_path):
    models, runs = write_models_yaml(tmp_path / "m.yaml", gpt4o_mini={"timeout": 120}), tmp_path / "runs"
    with FakeAPIServer(api_key=TEST_KEY) as server:
        server.taxonomy_pairs = taxonomy_pairs()
        server.hold(from_index=4)  # calls 0-3 are answered; 4-7 are served, their answers held back
        process = subprocess.Popen(
            [sys.executable, RUNNER, "--input", str(SAMPLE), "--limit", "12", "--model", "gpt4o_mini",
             "--batch-size", "1", "--concurrency", "4", "--models-config", str(models), "--runs-dir", str(runs)],
            env=subprocess_env(server), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            server.wait_held(4)  # four calls in flight: each worker sent its second request after its first settled
            process.send_signal(signal.SIGKILL)
            process.wait()
        finally:
            server.release()
        (run,) = [p for p in runs.iterdir() if p.name != ".cache"]  # .cache: the response cache
        outputs = run / "outputs"
        assert len(server.served) == 8
        answered = {c["call_id"] for c in jsonl(outputs / "calls.jsonl")}  # which four: the order the pool connects
        assert len(answered) == 4 and answered < {f"c{n:06d}" for n in range(1, 9)}
        sent = jsonl(outputs / "calls_sent.jsonl")
        assert sorted(c["call_id"] for c in sent) == [f"c{n:06d}" for n in range(1, 9)]  # written before sending

        resumed = subprocess.run([sys.executable, RUNNER, "--resume", str(run)], env=subprocess_env(server),
                                 capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr

    calls = jsonl(outputs / "calls.jsonl")
    usage = json.loads((outputs / "token_usage.json").read_text())
    summary = json.loads((run / "metadata" / "run_summary.json").read_text())
    # The fake's own count of what it served, against the run's record: nothing silently dropped.
    assert len(server.served) == 16 == usage["calls_made"] + usage["calls_unsettled"]
    assert (usage["calls_made"], usage["calls_unsettled"]) == (12, 4)
    assert len(calls) == 16 and len({c["call_id"] for c in calls}) == 16
    unsettled = [c for c in calls if c["status"] == "unsettled"]
    # the four sent but never answered before the kill: exactly those not in calls.jsonl then
    assert {c["call_id"] for c in unsettled} == {f"c{n:06d}" for n in range(1, 9)} - answered
    assert all(c["usage_known"] is False and set(c["usage"].values()) == {0} for c in unsettled)
    # Their worst case: the counted input and max_tokens (512), at the uncached price.
    worst = sum(c["usage_max"]["input_tokens"] * GPT4O_MINI[0] + 512 * GPT4O_MINI[1] for c in unsettled) / 1e6
    assert all(c["usage_max"]["output_tokens"] == 512 and c["usage_max"]["input_tokens"] > 1000 for c in unsettled)
    assert usage["cost_usd_unsettled_max"] == round(worst, 10)
    assert summary["calls_unsettled"] == 4 and summary["cost_usd_unsettled_max"] == round(worst, 10)
    # cost_usd is exact: the usage the fake billed for the 12 answers the run recorded.
    settled_ids = {json.loads(c["response"])["id"] for c in calls if c["status"] == "ok"}
    billed = [e for e in server.usage_log if e["id"] in settled_ids]
    assert len(billed) == 12
    assert usage["total_prompt_tokens"] == sum(e["input_tokens"] for e in billed)
    assert usage["total_completion_tokens"] == sum(e["output_tokens"] for e in billed)
    assert "+ 4 calls unsettled (sent, never answered on record)" in resumed.stdout
    assert f"+ up to ${round(worst, 10):.6f} for calls without usage" in resumed.stdout
    rows = pd.read_csv(outputs / "classifications.csv", dtype=str, keep_default_na=False)
    assert rows["product_id"].tolist() == IDS[:12] and set(rows["status"]) == {"ok"}
    assert summary["status"] == "completed" and summary["format_version"] == 3
