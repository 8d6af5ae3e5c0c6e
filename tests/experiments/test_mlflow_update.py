"""export-mlflow updates a run whose folder changed (a resume finished it); a bad store is one line, in time."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys

from analysis.test_analyze import PAIR_X, make_run
from analyze_runs import main
from conftest import ROOT

RUN_ID = "assign-cat-2025-09-19-140001"
CUT = [*PAIR_X[:2], *((pid, title, "not_run", gold) for pid, title, _, gold in PAIR_X[2:])]


def read_back(uri: str):
    import mlflow

    mlflow.set_tracking_uri(uri)
    try:
        return mlflow.search_runs(experiment_names=["assign-cat"])
    finally:
        mlflow.set_tracking_uri(None)


def test_an_export_after_a_resume_updates_status_metrics_and_cost(tmp_path, capsys):
    runs = tmp_path / "runs"
    run = make_run(runs, RUN_ID, CUT, status="interrupted", cost=0.005)
    uri = f"sqlite:///{runs / 'mlflow.db'}"
    argv = ["export-mlflow", str(run), "--runs-dir", str(runs)]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"1 exported, 0 updated, 0 already there | {uri}"
    before = read_back(uri)
    assert (before["tags.labnb.status"].item(), before["status"].item()) == ("interrupted", "KILLED")
    assert (before["metrics.accuracy"].item(), before["metrics.n"].item(), before["metrics.cost_usd"].item()) == (
        0.5, 2.0, 0.005)
    shutil.rmtree(run)  # the resume finished it: same run id, a finished folder
    make_run(runs, RUN_ID, PAIR_X, status="completed", cost=0.01)
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"updated: {RUN_ID} -> experiment 'assign-cat', MLflow run {before['run_id'].item()}")
    assert out[-1] == f"0 exported, 1 updated, 0 already there | {uri}"
    after = read_back(uri)
    assert after["run_id"].tolist() == before["run_id"].tolist()  # the same MLflow run, brought up to date
    assert (after["tags.labnb.status"].item(), after["status"].item()) == ("completed", "FINISHED")
    assert (after["metrics.accuracy"].item(), after["metrics.n"].item(), after["metrics.cost_usd"].item()) == (
        0.75, 8.0, 0.01)
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"0 exported, 0 updated, 1 already there | {uri}"


def test_a_read_only_store_is_one_line_and_exit_1(tmp_path, capsys):
    runs = tmp_path / "runs"
    run = make_run(runs, RUN_ID, CUT, status="interrupted", cost=0.005)
    assert main(["export-mlflow", str(run), "--runs-dir", str(runs)]) == 0
    shutil.rmtree(run)
    make_run(runs, RUN_ID, PAIR_X, status="completed", cost=0.01)
    read_only = f"sqlite:///file:{runs / 'mlflow.db'}?mode=ro&uri=true"
    capsys.readouterr()
    assert main(["export-mlflow", str(run), "--runs-dir", str(runs), "--tracking-uri", read_only]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: MLflow store {read_only}: ") and captured.err.count("\n") == 1
    assert "readonly database" in captured.err and "Traceback" not in captured.err


def test_a_file_uri_is_refused_in_one_line(tmp_path, capsys):
    runs = tmp_path / "runs"
    run = make_run(runs, RUN_ID, PAIR_X)
    assert main(["export-mlflow", str(run), "--runs-dir", str(runs), "--tracking-uri", f"file://{tmp_path}/m"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", (
        f"error: --tracking-uri file://{tmp_path}/m: MLflow 3 no longer writes folder stores; give "
        "sqlite:///PATH/mlflow.db (the default, no server) or an http(s):// tracking server\n"))
    assert not (tmp_path / "m").exists()


def test_a_server_that_never_answers_is_one_line_within_the_timeout(tmp_path):
    runs = tmp_path / "runs"
    run = make_run(runs, RUN_ID, PAIR_X)
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        done = subprocess.run([sys.executable, str(ROOT / "src" / "analyze_runs.py"), "export-mlflow", str(run),
                               "--runs-dir", str(runs), "--tracking-uri", url, "--timeout", "1"],
                              capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith(f"error: MLflow store {url}: ") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
