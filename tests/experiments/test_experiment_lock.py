"""One writer per experiment, and no orphaned cells: a second runner is refused; a killed one's cells die with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from fakeapi import FakeAPIServer

from conftest import ROOT, TEST_KEY, subprocess_env, taxonomy_pairs
from experiments.test_experiments import IDS, calls_in, folder_json, pid_exists, run, write_spec
from labnb.store.runlock import holder

ENTRY = ROOT / "src" / "run_experiment.py"
CHAT = "/v1/chat/completions"


def slow_spec(tmp_path: Path) -> Path:
    spec = write_spec(tmp_path, "  batch_size: [2, 4]\n  model: [gpt4o_mini]\n", n=8)
    spec.write_text(spec.read_text().replace("concurrency: 2", "concurrency: 1"), encoding="utf-8")
    return spec


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ENTRY), *argv], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_first_call(runs: Path, process: subprocess.Popen) -> tuple[Path, Path]:
    """The experiment folder and its first cell's run folder, once that run has a call on record."""
    while True:
        assert process.poll() is None, process.communicate()
        cells_json = next(runs.glob("experiments/*/cells.json"), None)
        if cells_json is not None:
            try:
                first = json.loads(cells_json.read_text())["cells"][0]
            except (ValueError, KeyError):
                first = {}
            if first.get("run_dir") and calls_in(Path(first["run_dir"])) >= 1:
                return cells_json.parent, Path(first["run_dir"])
        time.sleep(0.01)


def wait_until(condition, what: str, seconds: float = 60.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, what
        time.sleep(0.02)


def assert_every_cell_ran_once(exp: Path, server: FakeAPIServer) -> None:
    cells = folder_json(exp, "cells.json")["cells"]
    assert [c["state"] for c in cells] == ["done", "done"]
    runs = [Path(c["run_dir"]) for c in cells]
    assert [sorted(p.name for p in (exp / "runs" / f"{i:03d}").iterdir()) for i in (1, 2)] == [[r.name] for r in runs]
    for run_dir in runs:
        table = pd.read_csv(run_dir / "outputs" / "classifications.csv", dtype=str)
        assert table["product_id"].tolist() == IDS[:8] and set(table["status"]) == {"ok"}
    # The server's own log: every request it served is on one cell's record, and no cell ran twice.
    assert len(server.requests_to(CHAT)) == sum(calls_in(r) for r in runs)
    ok = [json.loads(line) for r in runs for line in (r / "outputs" / "calls.jsonl").read_text().splitlines()]
    assert sorted(len(c["item_ids"]) for c in ok if c["status"] == "ok") == [2] * 4 + [4] * 2


@pytest.fixture
def slow(monkeypatch):
    """A fake API answering in 0.3 s, which this process's experiments and their cells talk to."""
    with FakeAPIServer(api_key=TEST_KEY, latency=0.3) as server:
        server.taxonomy_pairs = taxonomy_pairs()
        for key, value in subprocess_env(server).items():
            monkeypatch.setenv(key, value)
        yield server


def assert_refused(capsys, exp: Path, pid: int) -> None:
    code, out, err = run(capsys, "--resume", str(exp))
    assert (code, out) == (2, ""), err
    assert err == (f"error: {exp}: this experiment is running in another process (pid {pid}); wait for it to end "
                   "or stop it, then --resume\n")


def test_a_resume_while_it_runs_and_a_second_resume_are_refused_in_one_line(tmp_path, capsys, slow):
    spec, runs, env = slow_spec(tmp_path), tmp_path / "runs", subprocess_env(slow)
    first = start([str(spec), "--runs-dir", str(runs)], env)
    exp, _ = wait_for_first_call(runs, first)
    assert_refused(capsys, exp, first.pid)
    first.send_signal(signal.SIGTERM)  # stopped cleanly: its cells record their calls in flight
    assert first.wait(timeout=120) == 130, first.communicate()
    again = start(["--resume", str(exp)], env)
    wait_until(lambda: holder(exp, ".lock") == again.pid, "the resume never took the experiment's lock")
    assert_refused(capsys, exp, again.pid)
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, stdout + stderr
    assert_every_cell_ran_once(exp, slow)
    assert [c["resumed"] for c in folder_json(exp, "cells.json")["cells"]] == [1, 0]


def test_kill_9_of_the_experiment_alone_takes_its_cells_down_and_a_resume_completes_the_grid(
        tmp_path, capsys, slow):
    spec, runs, env = slow_spec(tmp_path), tmp_path / "runs", subprocess_env(slow)
    process = start([str(spec), "--runs-dir", str(runs)], env)
    exp, cut = wait_for_first_call(runs, process)
    cell_pid = folder_json(cut, "metadata/run_summary.json")["pid"]
    os.kill(process.pid, signal.SIGKILL)  # the experiment process only, not its group
    process.wait()
    code, out, err = run(capsys, "--resume", str(exp))  # at once: the cell may still be writing
    assert code == 0, out + err
    wait_until(lambda: not pid_exists(cell_pid), f"cell process {cell_pid} outlived its experiment")
    assert_every_cell_ran_once(exp, slow)
    cells = folder_json(exp, "cells.json")["cells"]
    assert Path(cells[0]["run_dir"]) == cut and [c["resumed"] for c in cells] == [1, 0]
    summary = folder_json(cut, "metadata/run_summary.json")
    assert summary["status"] == "completed" and [r["mode"] for r in summary["resumes"]] == ["resume"]
    assert out.splitlines()[-1].startswith("experiment: 2/2 cells done")
