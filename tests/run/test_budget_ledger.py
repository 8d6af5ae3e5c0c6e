"""Issue 19 §1-§6: one ledger per run, that every paid request goes through; the budget holds everywhere."""

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
from fakeapi import FakeAPIServer, Fault
from test_signals_budget_and_option_guards import CJK, exact_meter, products_file

from conftest import ROOT, TEST_KEY, subprocess_env, taxonomy_pairs, write_models_yaml

SAMPLE = ROOT / "data" / "sample_products.csv"
IDS = pd.read_csv(SAMPLE, dtype=str)["product_id"].tolist()
CHAT = "/v1/chat/completions"
PRICES = {"gpt4o_mini": (0.15, 0.075, 0.60)}  # USD per 1M tokens: input, cached input, output (models.yaml)


@pytest.fixture
def cli(cli):
    """The run CLI with the response cache off: these runs repeat requests on purpose, and each must be paid."""
    return lambda *args, **kwargs: cli(*args, "--no-cache", **kwargs)


def table(run: Path) -> pd.DataFrame:
    return pd.read_csv(run / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def usage_of(run: Path) -> dict:
    return json.loads((run / "outputs" / "token_usage.json").read_text())


def summary_of(run: Path) -> dict:
    return json.loads((run / "metadata" / "run_summary.json").read_text())


def billed(server: FakeAPIServer, calls: list[dict]) -> float:
    """What the fake billed for the answers on record, priced by hand (gpt-4o-mini)."""
    inp, cached, out = PRICES["gpt4o_mini"]
    ids = {json.loads(c["response"])["id"] for c in calls if c["response"].startswith("{")}
    entries = [e for e in server.usage_log if e["id"] in ids]
    assert len(entries) == len(ids)
    return sum(((e["input_tokens"] - e["cached_tokens"]) * inp + e["cached_tokens"] * cached
                + e["output_tokens"] * out) / 1e6 for e in entries)


# -- §1 single retries after a split answer are checked against the budget ------------------------------------

def test_single_retries_after_a_truncated_batch_answer_stay_within_the_budget(cli, fake_api, tmp_path):
    exact_meter(fake_api)
    titles = [f"{CJK[i % len(CJK)]}{i:02d}" for i in range(10)]
    source = products_file(tmp_path / "cjk.csv", titles, [""] * 10)
    # Every answer for more than one product comes back cut off: the run asks for each product alone.
    fake_api.fault_fn = lambda index, body: Fault("truncated") if "2. " in body["messages"][1]["content"] else None
    probe = cli("--input", str(source), "--batch-size", "5", "--concurrency", "1", "--limit", "5")
    probe_calls = jsonl(probe.run_dir / "outputs" / "calls.jsonl")
    assert [c["attempt"] for c in probe_calls] == ["first"] + ["single-retry"] * 5
    one_batch, one_single = billed(fake_api, probe_calls[:1]), billed(fake_api, probe_calls[1:2])
    max_cost = round(one_batch + 2.5 * one_single, 8)  # the cut-off batch answer and two singles, not three
    served = len(fake_api.served)

    result = cli("--input", str(source), "--batch-size", "5", "--concurrency", "1", "--max-cost", f"{max_cost:.8f}")
    run = result.run_dir
    calls = jsonl(run / "outputs" / "calls.jsonl")
    assert [(c["attempt"], c["item_ids"]) for c in calls] == [
        ("first", ["p00", "p01", "p02", "p03", "p04"]), ("single-retry", ["p00"]), ("single-retry", ["p01"])]
    assert len(fake_api.served) - served == len(calls) == 3
    assert usage_of(run)["cost_usd"] == round(billed(fake_api, calls), 10) <= max_cost
    rows = table(run)
    assert rows["status"].tolist() == ["ok", "ok"] + ["not_run"] * 8
    assert rows["error_type"].tolist() == ["", ""] + ["budget_exhausted"] * 3 + ["not_run"] * 5
    assert summary_of(run)["status"] == "budget_exhausted" and result.code == 1


# -- §2 a resumed run keeps its budget --------------------------------------------------------------------------

def test_resume_counts_what_the_run_already_spent_against_its_budget(cli, fake_api, tmp_path):
    exact_meter(fake_api)
    probe = cli("--input", str(SAMPLE), "--limit", "12", "--batch-size", "1", "--concurrency", "1")
    max_cost = round(usage_of(probe.run_dir)["cost_usd"] / 2, 8)  # about six of the twelve
    whole = cli("--input", str(SAMPLE), "--limit", "12", "--batch-size", "1", "--concurrency", "1",
                "--max-cost", f"{max_cost:.8f}")
    assert summary_of(whole.run_dir)["status"] == "budget_exhausted"

    stop_at = fake_api.model_calls + 2  # a real Ctrl-C while the fake serves the run's third call

    def interrupt(index: int, body: dict) -> None:
        if index == stop_at:
            os.kill(os.getpid(), signal.SIGINT)

    fake_api.fault_fn = interrupt
    cut = cli("--input", str(SAMPLE), "--limit", "12", "--batch-size", "1", "--concurrency", "1",
              "--max-cost", f"{max_cost:.8f}")
    fake_api.fault_fn = None
    run = cut.run_dir
    assert cut.code == 130 and table(run)["status"].tolist() == ["ok"] * 3 + ["not_run"] * 9
    served = len(fake_api.served)
    for _ in range(2):  # resumed twice: each continues from what was spent, not from $0
        again = cli("--resume", str(run))
        assert again.code == 1 and summary_of(run)["status"] == "budget_exhausted"
    calls = jsonl(run / "outputs" / "calls.jsonl")
    assert len(calls) == len(jsonl(whole.run_dir / "outputs" / "calls.jsonl")) < 12
    assert len(fake_api.served) - served == len(calls) - 3  # the second resume sent nothing
    assert table(run)["status"].tolist() == table(whole.run_dir)["status"].tolist()
    assert usage_of(run)["cost_usd"] == usage_of(whole.run_dir)["cost_usd"] == round(billed(fake_api, calls), 10)
    assert usage_of(run)["cost_usd"] <= max_cost


# -- §4 a cascade prices its escalations with the model it escalates to ----------------------------------------

def test_a_cascade_from_the_free_local_model_stays_within_the_budget(cli, fake_api):
    fake_api.cache_min_tokens = 10**9  # every call at the uncached price
    result = cli("--model", "local", "--input", str(SAMPLE), "--limit", "20", "--escalate-to", "gpt4o_mini",
                 "--escalate-below", "0.99", "--batch-size", "1", "--concurrency", "1", "--max-cost", "0.0012")
    run = result.run_dir
    calls = [c for c in jsonl(run / "outputs" / "calls.jsonl") if c["model"] == "openai/gpt-4o-mini"]
    assert 0 < len(calls) == len(fake_api.requests_to(CHAT)) < 20
    usage = usage_of(run)
    assert usage["by_model"]["openai/gpt-4o-mini"]["cost_usd"] == round(billed(fake_api, calls), 10)
    assert usage["cost_usd"] == round(billed(fake_api, calls), 10) <= 0.0012
    rows = table(run)
    unsure = rows["first_confidence"].astype(float) < 0.99
    refused = rows[rows["error_type"] == "budget_exhausted"]
    assert len(refused) > 0 and set(refused["status"]) == {"not_run"}
    assert len(refused) + len(calls) == unsure.sum()  # every unsure item: escalated, or refused by the budget
    assert set(rows[~unsure]["status"]) == {"ok"}
    assert summary_of(run)["status"] == "budget_exhausted" and result.code == 1


# -- §5 a budget is a finite positive number everywhere --------------------------------------------------------

BAD_BUDGETS = ["nan", "inf", "-inf", "0", "-1"]


@pytest.mark.parametrize("value", BAD_BUDGETS)
def test_a_bad_max_cost_is_a_one_line_usage_error_for_a_new_run_and_a_resume(cli, fake_api, value):
    new = cli("--input", str(SAMPLE), "--limit", "2", f"--max-cost={value}")
    assert new.code == 2 and new.err.count("\n") == 1 and "Traceback" not in new.err
    assert new.err == f"error: --max-cost must be a finite positive number of USD, got {float(value)}\n"
    assert new.run_dirs == [] and fake_api.served == []
    done = cli("--input", str(SAMPLE), "--limit", "2")
    before = (done.run_dir / "metadata" / "run_summary.json").read_text()
    again = cli("--resume", str(done.run_dir), f"--max-cost={value}")
    assert again.code == 2 and again.err == new.err
    assert (done.run_dir / "metadata" / "run_summary.json").read_text() == before


@pytest.mark.parametrize("value", BAD_BUDGETS)
def test_a_bad_max_cost_is_a_one_line_usage_error_for_an_experiment(api_env, tmp_path, capsys, value):
    from labnb.experiments.cli import main

    spec = tmp_path / "exp.yaml"
    write_models_yaml(tmp_path / "models.yaml")
    spec.write_text(f"name: b\nuse_case: assign-cat\noptions:\n  input: {SAMPLE}\n  models_config: models.yaml\n"
                    "  limit: 2\ngrid:\n  model: [gpt4o_mini]\n")
    capsys.readouterr()
    code = main([str(spec), "--runs-dir", str(tmp_path / "runs"), f"--max-cost={value}"])
    err = capsys.readouterr().err
    assert code == 2 and err == f"error: --max-cost must be a finite positive number of USD, got {float(value)}\n"
    assert not (tmp_path / "runs").exists() and api_env.served == []


# -- §6 requests wait for calls in flight instead of being refused ---------------------------------------------

def test_many_calls_in_flight_classify_as_many_items_as_one_at_a_time(cli, fake_api, tmp_path):
    exact_meter(fake_api)
    fake_api.cache_min_tokens = 1024  # cached after the first call: each settles well below its reservation
    fake_api.latency = 0.05
    fake_api.default_label = taxonomy_pairs()[0]  # the same answer for every product: every call costs the same
    source = tmp_path / "same.csv"
    pd.DataFrame({"product_id": [f"p{i:02d}" for i in range(40)],
                  "title": [f"Widget model {100 + i}" for i in range(40)]}).to_csv(source, index=False)
    one = cli("--input", str(source), "--limit", "1", "--batch-size", "1")
    max_cost = round(usage_of(one.run_dir)["cost_usd"] * 12, 8)  # about twenty cached calls
    serial = cli("--input", str(source), "--batch-size", "1", "--concurrency", "1", "--max-cost", f"{max_cost:.8f}")
    parallel = cli("--input", str(source), "--batch-size", "1", "--concurrency", "8", "--max-cost", f"{max_cost:.8f}")
    done = [int((table(r.run_dir)["status"] == "ok").sum()) for r in (serial, parallel)]
    assert 15 < done[0] < 40 and done[1] == done[0]
    assert usage_of(parallel.run_dir)["cost_usd"] == usage_of(serial.run_dir)["cost_usd"] <= max_cost
    for r in (serial, parallel):
        assert summary_of(r.run_dir)["status"] == "budget_exhausted" and r.code == 1
        assert len(jsonl(r.run_dir / "outputs" / "calls.jsonl")) == done[0]


# -- §3 an experiment keeps its budget across --resume ---------------------------------------------------------

def test_an_interrupted_experiment_resumes_with_its_budget_and_hands_each_cell_what_is_left(
        tmp_path, capsys, monkeypatch):
    from labnb.experiments.cli import main

    home = tmp_path / "spec"
    home.mkdir()
    pd.read_csv(SAMPLE, dtype=str).head(6).to_csv(home / "items.csv", index=False)
    write_models_yaml(home / "models.yaml")
    spec = home / "exp.yaml"
    spec.write_text("name: b\nuse_case: assign-cat\noptions:\n  input: items.csv\n  models_config: models.yaml\n"
                    "  concurrency: 1\n  model: gpt4o_mini\ngrid:\n  batch_size: [1, 2]\n")
    runs = tmp_path / "runs"
    from labnb.experiments import experiment
    from labnb.experiments.cells import budget_cost
    from labnb.experiments.spec import load_spec

    loaded = load_spec(spec)
    first_cost, second_cost = (budget_cost(p, False) for p in experiment.price(loaded, experiment.new_cells(loaded))
                               .values())
    budget = round(first_cost + second_cost / 2, 6)  # room for the first cell, not for both
    with FakeAPIServer(api_key=TEST_KEY, latency=0.2) as server:
        server.taxonomy_pairs = taxonomy_pairs()
        env = subprocess_env(server)
        process = subprocess.Popen([sys.executable, str(ROOT / "src" / "run_experiment.py"), str(spec),
                                    "--runs-dir", str(runs), "--max-cost", str(budget)], env=env,
                                   start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        cut = None
        while cut is None:  # the first cell's run has made two calls
            assert process.poll() is None, process.communicate()
            cells_json = next(runs.glob("experiments/*/cells.json"), None)
            first = json.loads(cells_json.read_text())["cells"][0] if cells_json else {}
            if first.get("run_dir") and len(jsonl(Path(first["run_dir"]) / "outputs" / "calls.jsonl")) >= 2:
                cut = Path(first["run_dir"])
            time.sleep(0.01)
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the experiment and its cell stop
        process.communicate(timeout=60)
        exp = cells_json.parent
        saved = json.loads(cells_json.read_text())
        assert saved["max_cost_usd"] == budget and saved["cells"][0]["max_cost_usd"] == budget
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        capsys.readouterr()
        code = main(["--resume", str(exp)])  # no --max-cost: the experiment's own is kept
        out = capsys.readouterr().out
    cells = json.loads(cells_json.read_text())
    assert cells["max_cost_usd"] == budget
    first, second = cells["cells"]
    assert first["state"] == "done" and first["max_cost_usd"] == budget and first["resumed"] == 1
    resumes = summary_of(cut)["resumes"]
    assert [r["overrides"] for r in resumes] == [{"max_cost": budget}]
    spent = usage_of(cut)["cost_usd"]
    assert second["state"] in ("done", "skipped")
    total = spent + (usage_of(Path(second["run_dir"]))["cost_usd"] if second["run_dir"] else 0.0)
    assert total <= budget
    if second["run_dir"]:
        assert second["max_cost_usd"] == pytest.approx(budget - spent, abs=1e-6)
    assert f"${total:.6f}" in out and code in (0, 1)
