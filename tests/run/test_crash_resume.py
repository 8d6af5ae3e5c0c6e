"""Never lose a result: kill -9 at random points, Ctrl-C, resume, retry-failed."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from fakeapi import FakeAPIServer, Fault

from conftest import ROOT, subprocess_env, write_models_yaml

SAMPLE = ROOT / "data" / "sample_products.csv"
IDS = pd.read_csv(SAMPLE, dtype=str)["product_id"].tolist()
CONCURRENCY = 4


@pytest.fixture
def slow_api():
    with FakeAPIServer(api_key="test-key-0123456789abcdef", latency=0.08) as server:
        yield server


def start(server: FakeAPIServer, models: Path, runs: Path, *args: str) -> subprocess.Popen:
    command = [sys.executable, str(ROOT / "src" / "run_assign_cat.py"), *args]
    if "--resume" not in args:
        command += ["--input", str(SAMPLE), "--batch-size", "2", "--concurrency", str(CONCURRENCY),
                    "--models-config", str(models), "--runs-dir", str(runs)]
    return subprocess.Popen(command, env=subprocess_env(server), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def lines(path: Path) -> list[dict]:
    """Complete records only: the run may be writing the last line right now."""
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return out


def wait_for_calls(runs: Path, at_least: int, process: subprocess.Popen, timeout: float = 30,
                   prefix: str = "assign-cat-") -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        folders = sorted(runs.glob(f"{prefix}*"))
        if folders and len(lines(folders[0] / "outputs" / "calls.jsonl")) >= at_least:
            return folders[0]
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)
    raise AssertionError("the run made too few calls in time")


def served_usage_of(server: FakeAPIServer, calls: list[dict]) -> tuple[int, int]:
    ours = {json.loads(c["response"])["id"] for c in calls if c["status"] == "ok"}
    served = [e for e in server.usage_log if e["id"] in ours]
    assert len(served) == len(ours)
    return sum(e["input_tokens"] for e in served), sum(e["output_tokens"] for e in served)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_at_random_points_then_resume_gives_every_product_once(slow_api, tmp_path, seed):
    rng = random.Random(seed)
    models, runs = write_models_yaml(tmp_path / "m.yaml"), tmp_path / "runs"
    process = start(slow_api, models, runs)
    run = wait_for_calls(runs, rng.randint(1, 15), process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    # What finished before the kill is on disk, readable, and the run shows as running with a stale heartbeat.
    summary = json.loads((run / "metadata" / "run_summary.json").read_text())
    assert summary["status"] == "running"
    partial = pd.read_csv(run / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert partial["product_id"].is_unique and set(partial["product_id"]) <= set(IDS)
    # Resume and kill again, then resume to the end.
    process = start(slow_api, models, runs, "--resume", str(run))
    done = len(lines(run / "outputs" / "calls.jsonl"))
    wait_for_calls(runs, done + rng.randint(1, 5), process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    final = subprocess.run([sys.executable, str(ROOT / "src" / "run_assign_cat.py"), "--resume", str(run)],
                           env=subprocess_env(slow_api), capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    table = pd.read_csv(run / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert table["product_id"].tolist() == IDS and set(table["status"]) == {"ok"}
    calls = lines(run / "outputs" / "calls.jsonl")
    usage = json.loads((run / "outputs" / "token_usage.json").read_text())
    assert (usage["total_prompt_tokens"], usage["total_completion_tokens"]) == served_usage_of(slow_api, calls)
    assert len(calls) == len({c["call_id"] for c in calls})
    assert usage["calls_made"] + usage["calls_unsettled"] == len(calls)
    unsettled = [c for c in calls if c["status"] == "unsettled"]
    assert usage["calls_unsettled"] == len(unsettled) <= 2 * CONCURRENCY  # in flight at the two kills
    # Every call served is on record: settled, or unsettled (a kill can come between its line and its send).
    assert slow_api.total_usage()["calls"] <= len(calls)
    summary = json.loads((run / "metadata" / "run_summary.json").read_text())
    assert summary["status"] == "completed" and [r["mode"] for r in summary["resumes"]] == ["resume", "resume"]


def test_ctrl_c_stops_cleanly_with_status_interrupted_and_resume_finishes(slow_api, tmp_path):
    models, runs = write_models_yaml(tmp_path / "m.yaml"), tmp_path / "runs"
    process = start(slow_api, models, runs)
    run = wait_for_calls(runs, 5, process)
    served = len(slow_api.requests)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    # No call starts after the signal: only those already in flight (at most one per slot) still finish.
    assert len(slow_api.requests) - served <= CONCURRENCY
    assert out.startswith("interrupted: ") and "not run" in out
    summary = json.loads((run / "metadata" / "run_summary.json").read_text())
    assert summary["status"] == "interrupted"
    table = pd.read_csv(run / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert table["product_id"].tolist() == IDS  # every product has a row, the unfinished ones 'not_run'
    assert set(table["status"]) == {"ok", "not_run"}
    resumed = subprocess.run([sys.executable, str(ROOT / "src" / "run_assign_cat.py"), "--resume", str(run)],
                             env=subprocess_env(slow_api), capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    table = pd.read_csv(run / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert table["product_id"].tolist() == IDS and set(table["status"]) == {"ok"}


def test_retry_failed_reruns_only_failed_products_and_keeps_history(cli, fake_api):
    fake_api.faults = [None, Fault("status", status=500), Fault("status", status=500), Fault("status", status=500),
                       Fault("invalid_label", variant="unknown")]
    first = cli("--input", str(SAMPLE), "--limit", "5", "--concurrency", "1")
    assert first.code == 1
    run = first.run_dir
    before = pd.read_csv(run / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert before["status"].tolist() == ["ok", "error", "invalid", "ok", "ok"]
    calls_before = len(lines(run / "outputs" / "calls.jsonl"))
    again = cli("--retry-failed", str(run))
    assert again.code == 0, again.err
    after = pd.read_csv(run / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert after["product_id"].tolist() == IDS[:5] and set(after["status"]) == {"ok"}
    assert after.loc[[0, 3, 4], "call_id"].tolist() == before.loc[[0, 3, 4], "call_id"].tolist()  # untouched
    calls = lines(run / "outputs" / "calls.jsonl")
    assert len(calls) == calls_before + 2
    assert sorted(c["item_ids"] for c in calls[-2:]) == [[IDS[1]], [IDS[2]]]
    log = (run / "outputs" / "errors.log").read_text()
    assert "server_error" in log and "invalid_label" in log  # the history stays
    served = fake_api.total_usage()
    usage = json.loads((run / "outputs" / "token_usage.json").read_text())
    assert usage["total_prompt_tokens"] == served["input_tokens"] and usage["calls_made"] == len(calls)
    summary = json.loads((run / "metadata" / "run_summary.json").read_text())
    assert summary["resumes"][-1]["mode"] == "retry-failed" and summary["resumes"][-1]["products"] == 2


def test_resume_refuses_an_edited_snapshot(cli, fake_api):
    first = cli("--input", str(SAMPLE), "--limit", "3")
    products = first.run_dir / "inputs" / "products.json"
    products.write_text(products.read_text().replace("sp-001", "sp-999"))
    again = cli("--resume", str(first.run_dir))
    assert again.code == 2 and "changed since the run started" in again.err and str(products) in again.err


def test_resume_refuses_a_run_that_is_still_running(tmp_path):
    models, runs = write_models_yaml(tmp_path / "m.yaml"), tmp_path / "runs"
    with FakeAPIServer(api_key="test-key-0123456789abcdef", latency=1.0) as server:  # about 11 s of work
        process = start(server, models, runs)
        run = wait_for_calls(runs, 2, process)
        try:
            second = subprocess.run([sys.executable, str(ROOT / "src" / "run_assign_cat.py"), "--resume", str(run)],
                                    env=subprocess_env(server), capture_output=True, text=True, timeout=60)
            assert process.poll() is None  # the first run was still going when the resume was refused
            assert second.returncode == 2
            assert second.stderr == f"error: {run}: in use by another process (pid {process.pid})\n"
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
