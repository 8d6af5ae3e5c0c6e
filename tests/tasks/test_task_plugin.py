"""A task is a plugin: a package with one module and one `labnb.tasks` entry point, pip-installed beside labnb,
is listed by `labnb tasks` and runs through `labnb run` (the built-in tasks register the same way)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from conftest import ROOT, venv_over_this_one

PLUGIN = ROOT / "tests" / "plugins" / "labnb_priority_task"
TICKETS = ("id,body,plan,expected_priority\n"
           "a1,Nobody in our company can log in since this morning and all our orders are stuck,business,p1\n"
           "a2,I cannot pay my invoice because the card form gives an error and there is no other way,free,p2\n"
           "a3,The export button is broken but copying the table by hand works for now,pro,p3\n"
           "a4,Thanks for the great support last week and an idea: a dark mode would be nice,free,p4\n")


def install(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A venv over the test interpreter's packages with labnb (from a copy of the project) and the plugin."""
    source = tmp_path / "project"  # copies: building writes build/ and *.egg-info next to the sources
    source.mkdir()
    for name in ("pyproject.toml", "requirements.txt", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__"))
    plugin = shutil.copytree(PLUGIN, tmp_path / "plugin", ignore=shutil.ignore_patterns("__pycache__"))
    python = venv_over_this_one(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-build-isolation", f"{source}/", f"{plugin}/"], check=True, env=env,
                   capture_output=True)
    return python.parent, env


def test_an_installed_plugin_task_is_listed_and_runs_through_labnb_run(tmp_path):
    bin_, env = install(tmp_path)
    listed = subprocess.run([str(bin_ / "labnb"), "tasks"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split()[:2] for line in listed.stdout.splitlines()]
    # installed, labnb finds its built-ins through the same entry points as the plugin (no checkout beside it)
    assert rows == [["assign-cat", "assign_cat.task:AssignCat"], ["classify", "labnb.flat.task:Classify"],
                    ["classify-text", "classify_text.task:ClassifyText"],
                    ["priority", "labnb_priority_task:Priority"]]
    assert listed.stdout.splitlines()[-1].endswith("The priority of a support ticket (p1 urgent … p4 low), from "
                                                   "its text and the columns beside it.")
    data = tmp_path / "tickets.csv"
    data.write_text(TICKETS, encoding="utf-8")
    models = str(ROOT / "config" / "models.yaml")
    done = subprocess.run([str(bin_ / "labnb"), "run", "priority", "--model", "local", "--input", str(data),
                           "--runs-dir", str(tmp_path / "runs"), "--models-config", models],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith("priority-") and str(run) in done.stdout
    table = pd.read_csv(run / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert list(table.columns) == ["ticket_id", "text", "priority", "raw_response", "model_used", "status",
                                   "error_type", "error", "latency_ms", "confidence", "call_id", "expected_priority",
                                   "correct"]
    assert table["ticket_id"].tolist() == ["a1", "a2", "a3", "a4"] and set(table["status"]) == {"ok"}
    assert set(table["priority"]) <= {"p1", "p2", "p3", "p4"}
    assert table["correct"].tolist() == [str(a == b) for a, b in zip(table["priority"], table["expected_priority"])]
    metrics = json.loads((run / "outputs" / "metrics.json").read_text())
    n_correct = int((table["correct"] == "True").sum())
    assert (metrics["n_correct"], metrics["accuracy"]) == (n_correct, n_correct / 4)
    assert json.loads((run / "inputs" / "tickets.json").read_text())[0] == {
        "item_id": "a1", "text": table["text"][0], "expected_label": "p1", "extra": {"plan": "business"}}
    summary = json.loads((run / "metadata" / "run_summary.json").read_text())
    assert (summary["use_case"], summary["status"]) == ("priority", "completed")
    again = subprocess.run([str(bin_ / "labnb"), "runs", "list", "--runs-dir", str(tmp_path / "runs")],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert again.returncode == 0 and run.name in again.stdout, again.stderr
