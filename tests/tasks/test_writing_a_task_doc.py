"""docs/developing/writing-a-task.md runs as written: its YAML label set (no Python) and its task module (at most
80 lines, the one the plugin test installs) are read out of the doc and run through `labnb run`."""

from __future__ import annotations

import importlib.util
import re
import sys

import pandas as pd
import pytest

from conftest import ROOT, in_process_cli

DOC = ROOT / "docs" / "developing" / "writing-a-task.md"
PLUGIN = ROOT / "tests" / "plugins" / "labnb_priority_task"
TICKETS = ROOT / "data" / "sample_tickets.csv"


def block(language: str) -> str:
    """The first fenced code block of ``language`` in the doc."""
    found = re.search(rf"^```{language}\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.M | re.S)
    assert found, f"no {language} block in {DOC}"
    return found.group(1)


@pytest.fixture
def labnb_cli(api_env, tmp_path, capsys):
    from labnb.cli import main

    return in_process_cli(main, tmp_path, capsys)


def test_the_flat_label_set_of_the_doc_runs_with_no_python(labnb_cli, tmp_path):
    labels = tmp_path / "labels.yaml"
    labels.write_text(block("yaml"), encoding="utf-8")
    assert labels.read_text() == (ROOT / "config" / "labels" / "intent.yaml").read_text()  # shown in full
    result = labnb_cli("run", "classify", "--labels", str(labels), "--input", str(TICKETS), "--text-column",
                       "subject", "--text-column", "body", "--model", "local", "--limit", "12")
    assert result.code == 0, result.err
    table = pd.read_csv(result.run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert result.run_dir.name.startswith("intent-") and len(table) == 12 and set(table["status"]) == {"ok"}


def test_the_task_module_of_the_doc_is_the_plugin_and_runs(labnb_cli, fake_api, tmp_path, monkeypatch):
    code, toml = block("python"), block("toml")
    assert len(code.splitlines()) <= 80
    assert code == (PLUGIN / "labnb_priority_task.py").read_text()  # the module the plugin test installs
    assert toml == (PLUGIN / "pyproject.toml").read_text()
    module_path = tmp_path / "doc_priority_task.py"
    module_path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("doc_priority_task", module_path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "doc_priority_task", module)
    spec.loader.exec_module(module)
    from labnb import registry

    tasks = {**registry.registered(), "priority": registry.TaskEntry("priority", "doc_priority_task:Priority")}
    monkeypatch.setattr(registry, "registered", lambda: tasks)
    data = tmp_path / "tickets.csv"
    data.write_text("id,body,plan,expected_priority\nk1,Nobody can log in,business,p1\nk2,A dark mode please,free,p4\n"
                    "k3,Export is broken but copy works,pro,p3\n", encoding="utf-8")
    fake_api.taxonomy_pairs = [(p, "") for p in ("p1", "p2", "p3", "p4")]
    fake_api.labels = {"Nobody can log in": ("p1", ""), "A dark mode please": ("p4", ""),
                       "Export is broken but copy works": ("p2", "")}
    result = labnb_cli("run", "priority", "--input", str(data), "--model", "gpt4o_mini", "--batch-size", "3")
    assert result.code == 0, result.err
    table = pd.read_csv(result.run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert table[["ticket_id", "priority", "expected_priority", "correct"]].values.tolist() == [
        ["k1", "p1", "p1", "True"], ["k2", "p4", "p4", "True"], ["k3", "p2", "p3", "False"]]
    (request,) = fake_api.requests_to("/v1/chat/completions")
    system, user = (m["content"] for m in request["json"]["messages"])
    assert "\n  1: Urgent - Many customers are blocked" in system and "one entry per ticket" in system
    assert user == ("Classify these 3 tickets:\n1. Nobody can log in | plan: business\n2. A dark mode please | plan: "
                    "free\n3. Export is broken but copy works | plan: pro")
    assert "p1" not in user  # the gold column never reaches the model
    metrics = result.json("outputs/metrics.json")
    assert (metrics["accuracy"], metrics["n_correct"]) == (round(2 / 3, 6), 2)
