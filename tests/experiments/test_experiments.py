"""Experiments end to end: a grid of real runs (subprocesses of the real CLI) against the fake API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from fakeapi import FakeAPIServer

from assign_cat.products import load_products
from conftest import ROOT, TEST_KEY, subprocess_env, taxonomy_pairs, write_models_yaml
from labnb.experiments import experiment
from labnb.experiments.cells import budget_cost
from labnb.experiments.cli import main
from labnb.experiments.gate import parse_fail_under

SAMPLE = ROOT / "data" / "sample_products.csv"
PRODUCTS = load_products(SAMPLE)[:20]
GOLD = {p.title: (p.expected_category, p.expected_subcategory) for p in PRODUCTS}
IDS = [p.product_id for p in PRODUCTS]


def wrong_for(title: str) -> tuple[str, str]:
    """A valid pair that is not the product's gold pair."""
    return next(pair for pair in taxonomy_pairs() if pair != GOLD[title])


class PerModelAPI(FakeAPIServer):
    """The fake API answering from a label table per model id (``by_model``), so cells of a grid differ."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.by_model: dict[str, dict[str, tuple[str, str]]] = {}
        self._pick = threading.Lock()

    def _answer(self, provider, path, body, kind, variant="", batch=False):
        with self._pick:  # the labels knob is shared: pick this model's table for the length of one answer
            self.labels = self.by_model.get(str(body.get("model")), {})
            return super()._answer(provider, path, body, kind, variant, batch)


@pytest.fixture
def fake_api():  # overrides conftest's: api_env points the SDKs (and every cell's process) at this one
    with PerModelAPI(api_key=TEST_KEY) as server:
        server.taxonomy_pairs = taxonomy_pairs()
        titles = [p.title for p in PRODUCTS]
        # haiku is wrong on item 1; gpt-4o-mini on items 1-8
        server.by_model["claude-haiku-4-5"] = {**GOLD, titles[0]: wrong_for(titles[0])}
        server.by_model["gpt-4o-mini"] = {**GOLD, **{t: wrong_for(t) for t in titles[:8]}}
        yield server


def write_spec(tmp_path: Path, grid: str, extra: str = "", n: int = 20) -> Path:
    """A spec in its own folder; its input and models file are given relative to it."""
    home = tmp_path / "spec"
    home.mkdir(exist_ok=True)
    pd.read_csv(SAMPLE, dtype=str).head(n).to_csv(home / "items.csv", index=False)
    write_models_yaml(home / "models.yaml")
    spec = home / "exp.yaml"
    spec.write_text(f"name: models\nuse_case: assign-cat\noptions:\n  input: items.csv\n  models_config: models.yaml\n"
                    f"  concurrency: 2\ngrid:\n{grid}{extra}", encoding="utf-8")
    return spec


def run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def only_experiment(runs: Path) -> Path:
    (folder,) = (runs / "experiments").iterdir()
    return folder


def folder_json(run_dir: Path, relative: str) -> dict:
    return json.loads((run_dir / relative).read_text())


def test_a_2x2_grid_ranks_cells_with_hand_computed_intervals_p_values_and_the_gate(api_env, tmp_path, capsys):
    gate = '\ngate: {cell: "model=gpt4o_mini,batch_size=1", metric: accuracy, min: 0.8}\n'
    spec = write_spec(tmp_path, "  model: [gpt4o_mini, haiku]\n  batch_size: [1, 5]\n", gate)
    code, out, err = run(capsys, str(spec), "--runs-dir", str(tmp_path / "runs"), "--parallel", "2")
    # The gate names a cell at 12/20 = 0.6 < 0.8: exit 4 and one line for the CI log.
    assert code == 4, err
    assert out.strip().splitlines()[-1] == "gate failed: model=gpt4o_mini,batch_size=1 accuracy 0.600 < 0.8"
    exp = only_experiment(tmp_path / "runs")
    assert exp.name.startswith("models-") and (exp / "experiment.yaml").read_bytes() == spec.read_bytes()
    cells = folder_json(exp, "cells.json")["cells"]
    assert [c["name"] for c in cells] == ["model=gpt4o_mini,batch_size=1", "model=gpt4o_mini,batch_size=5",
                                          "model=haiku,batch_size=1", "model=haiku,batch_size=5"]
    assert cells[3]["options"] == {"batch_size": 5, "concurrency": 2, "input": str(spec.parent / "items.csv"),
                                   "models_config": str(spec.parent / "models.yaml"), "model": "haiku"}
    run_dirs = {c["name"]: Path(c["run_dir"]) for c in cells}
    assert all(Path(c["run_dir"]).name == c["run_id"] and c["state"] == "done" for c in cells)
    # Every cell is an ordinary run of its own options.
    for c in cells:
        options = folder_json(run_dirs[c["name"]], "config/run_config.json")["options"]
        assert (options["model"], options["batch_size"], options["limit"]) == (c["values"]["model"],
                                                                              c["values"]["batch_size"], None)
    board = pd.read_csv(exp / "leaderboard.csv", dtype=str, keep_default_na=False)
    assert board.columns.tolist() == [
        "cell", "run_id", "model", "batch_size", "n", "accuracy", "accuracy_ci_low", "accuracy_ci_high",
        "category_accuracy", "macro_f1", "cost_usd", "cost_per_1k_items", "total_tokens", "wall_seconds",
        "p95_latency_ms", "failed", "pareto", "mcnemar_p"]
    cost = {name: folder_json(d, "outputs/token_usage.json")["cost_usd"] for name, d in run_dirs.items()}
    # Hand computation. haiku: 19/20 right; gpt-4o-mini: 12/20. Ties on accuracy go to the cheaper cell.
    assert cost["model=haiku,batch_size=5"] < cost["model=haiku,batch_size=1"]
    assert cost["model=gpt4o_mini,batch_size=5"] < min(cost["model=gpt4o_mini,batch_size=1"],
                                                       cost["model=haiku,batch_size=5"])
    order = ["model=haiku,batch_size=5", "model=haiku,batch_size=1", "model=gpt4o_mini,batch_size=5",
             "model=gpt4o_mini,batch_size=1"]
    assert board["cell"].tolist() == order
    assert board["n"].tolist() == ["20"] * 4
    assert board["accuracy"].tolist() == ["0.95", "0.95", "0.6", "0.6"]
    # Wilson, z = 1.959964: 19/20 -> centre (0.95 + z²/40) / (1 + z²/20) = 0.877390, half 0.113761
    assert board["accuracy_ci_low"].tolist() == ["0.763869", "0.763869", "0.386582", "0.386582"]
    assert board["accuracy_ci_high"].tolist() == ["0.991119", "0.991119", "0.781193", "0.781193"]
    # McNemar against the best (haiku, batch 5): gpt is wrong on 7 items haiku got right, right on none it
    # missed: p = 2 * (1/2)^7 = 0.015625. haiku at batch 1 answers identically: no discordant item, p = 1.
    assert board["mcnemar_p"].tolist() == ["1.0", "1.0", "0.015625", "0.015625"]
    # Pareto: gpt at batch 5 is the cheapest; haiku at batch 5 the cheapest of the most accurate.
    assert board["pareto"].tolist() == ["true", "false", "true", "false"]
    for _, row in board.iterrows():
        d = run_dirs[row["cell"]]
        usage, timing = folder_json(d, "outputs/token_usage.json"), folder_json(d, "outputs/timing.json")
        metrics = folder_json(d, "outputs/metrics.json")
        assert row["run_id"] == d.name and float(row["cost_usd"]) == usage["cost_usd"]
        assert float(row["cost_per_1k_items"]) == round(usage["cost_usd"] / 20 * 1000, 6)
        assert int(row["total_tokens"]) == usage["total_tokens"] and row["failed"] == "0"
        assert float(row["wall_seconds"]) == timing["total_duration_seconds"]
        assert float(row["p95_latency_ms"]) == timing["latency_p95_ms"]
        assert float(row["category_accuracy"]) == metrics["category_accuracy"]
        assert float(row["macro_f1"]) == metrics["subcategory_f1_macro"]
        assert float(row["accuracy"]) == metrics["accuracy"]
    md = (exp / "leaderboard.md").read_text()
    lines = {line.split(" | ")[0].lstrip("| "): line for line in md.splitlines() if line.startswith("| model=")}
    assert lines["model=haiku,batch_size=5"].endswith("| best |")
    assert lines["model=haiku,batch_size=1"].endswith("| indistinguishable from the best at 5% |")
    assert lines["model=gpt4o_mini,batch_size=5"].endswith("| worse than the best at 5% |")
    report = (exp / "report.html").read_text()
    assert "<script" not in report and "http" not in report.split("</style>")[1].split("base64")[0]
    assert report.count("data:image/png;base64,") == 2  # cost-accuracy scatter and per-label heat map
    # --fail-under gates the best cell (haiku at 0.95): one point above fails, at it passes.
    spec_, folder, _, states = experiment.reopen(exp)
    metrics = spec_.use_case.gate_metrics
    assert experiment.finish(spec_, folder, states, [parse_fail_under("accuracy=0.95", metrics)]).exit_code == 0
    failed = experiment.finish(spec_, folder, states, [parse_fail_under("accuracy=0.96", metrics)])
    assert (failed.exit_code, failed.line.splitlines()[-1]) == (
        4, "gate failed: model=haiku,batch_size=5 accuracy 0.950 < 0.96")


def test_dry_run_prices_every_cell_and_the_total_and_creates_nothing(api_env, tmp_path, capsys):
    from assign_cat.task import AssignCat, AssignCatOptions
    from labnb.run.dryrun import project
    from labnb.run.plan import prepare

    spec = write_spec(tmp_path, "  model: [gpt4o_mini, haiku]\n  batch_size: [1, 4]\n", n=6)
    code, out, err = run(capsys, str(spec), "--dry-run", "--runs-dir", str(tmp_path / "runs"))
    assert code == 0, err
    assert not (tmp_path / "runs").exists() and api_env.model_calls == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:7]}
    expected, totals = {}, [0, 0, 0, 0.0, 0.0, 0.0]
    for model in ("gpt4o_mini", "haiku"):
        for size in (1, 4):
            plan = prepare(AssignCat(), AssignCatOptions(
                model=model, batch_size=size, input=str(spec.parent / "items.csv"),
                models_config=str(spec.parent / "models.yaml"), concurrency=2), require_key=False)
            p = project(plan.entry, plan)
            values = [p.requests, p.input_tokens, p.output_tokens, p.cost_uncached, p.cost_cached, p.cost_batch_api]
            expected[f"model={model},batch_size={size}"] = [f"{v:,}" for v in values[:3]] + [
                f"{v:.6f}" for v in values[3:]]
            totals = [t + v for t, v in zip(totals, values)]
    expected["total"] = [f"{v:,}" for v in totals[:3]] + [f"{v:.6f}" for v in totals[3:]]
    assert rows == expected


@pytest.mark.parametrize(("body", "message"), [
    ("grids:\n  model: [haiku]\n", "grids: unknown key (expected one of name, use_case, options, grid, gate)"),
    ("grid:\n  modle: [haiku]\n", "grid.modle: unknown run option"),
    ("grid: {}\n", "grid: empty: give at least one run option with a list of values"),
    ("grid:\n  batch_size: [1, two]\n", "grid.batch_size[1]: expected an integer, got 'two'"),
    ("grid:\n  taxonomy: [../nowhere.xml]\n", "grid.taxonomy[0]: no such file: ../nowhere.xml"),
    ("grid:\n  model: [haiku, nope]\n", "cell model=nope: {home}/models.yaml: unknown model 'nope'; valid aliases"),
])
def test_a_bad_spec_is_one_line_naming_the_file_and_key_and_runs_nothing(api_env, tmp_path, capsys, body, message):
    spec = write_spec(tmp_path, "", n=2)
    spec.write_text(spec.read_text().replace("grid:\n", body), encoding="utf-8")
    code, out, err = run(capsys, str(spec), "--runs-dir", str(tmp_path / "runs"))
    assert (code, out) == (2, "")
    message = message.format(home=spec.parent)
    assert err.startswith(f"error: {spec.resolve()}: {message}") and err.count("\n") == 1
    assert not (tmp_path / "runs").exists() and api_env.model_calls == 0


def test_every_cells_api_key_is_checked_before_anything_runs(api_env, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    spec = write_spec(tmp_path, "  model: [haiku, gpt4o_mini, sonnet]\n", n=2)
    code, out, err = run(capsys, str(spec), "--runs-dir", str(tmp_path / "runs"))
    assert (code, out) == (2, "")
    assert err == (f"error: {spec.resolve()}: cells model=haiku, model=sonnet need ANTHROPIC_API_KEY: set it in the "
                   "environment, or take those models out of the grid (nothing was run)\n")
    assert not (tmp_path / "runs").exists() and api_env.model_calls == 0
    monkeypatch.delenv("OPENAI_API_KEY")
    code, _, err = run(capsys, str(spec), "--runs-dir", str(tmp_path / "runs"))
    assert code == 2 and err == (
        f"error: {spec.resolve()}: cells model=haiku, model=sonnet need ANTHROPIC_API_KEY; cell model=gpt4o_mini "
        "needs OPENAI_API_KEY: set them in the environment, or take those models out of the grid (nothing was run)\n")
    code, out, _ = run(capsys, str(spec), "--dry-run")  # pricing needs no key
    assert code == 0 and out.startswith("dry run: experiment 'models', 3 cells")


def test_max_cost_caps_the_experiment_no_cell_starts_past_it(api_env, tmp_path, capsys):
    from labnb.experiments.spec import load_spec

    spec = write_spec(tmp_path, "  model: [gpt4o_mini, haiku]\n", n=3)
    loaded = load_spec(spec)
    cheap, dear = (budget_cost(p, False) for p in experiment.price(loaded, experiment.new_cells(loaded)).values())
    budget = round(cheap + dear / 2, 6)  # room for the first cell, not for both
    code, out, _ = run(capsys, str(spec), "--runs-dir", str(tmp_path / "runs"), "--max-cost", str(budget))
    assert code == 1
    exp = only_experiment(tmp_path / "runs")
    first, second = folder_json(exp, "cells.json")["cells"]
    assert first["state"] == "done" and first["max_cost_usd"] == budget  # the whole budget was left
    assert folder_json(Path(first["run_dir"]), "config/run_config.json")["options"]["max_cost"] == budget
    spent = folder_json(Path(first["run_dir"]), "outputs/token_usage.json")["cost_usd"]
    assert second["state"] == "skipped" and second["run_dir"] is None
    assert second["message"] == (f"not started: projected ${dear:.6f} > ${budget - spent:.6f} left of "
                                 f"--max-cost {budget:g}")
    assert f"[2/2] model=haiku: {second['message']}" in out
    assert {m for m in api_env.requests_to("/v1/messages")} == set()  # haiku was never called
    board = pd.read_csv(exp / "leaderboard.csv", dtype=str, keep_default_na=False)
    assert board[["cell", "run_id", "n"]].values.tolist() == [["model=gpt4o_mini", Path(first["run_dir"]).name, "3"],
                                                             ["model=haiku", "", "0"]]


def test_an_experiment_with_no_cell_finished_says_so_not_no_gold(api_env, tmp_path, capsys):
    spec = write_spec(tmp_path, "  model: [gpt4o_mini, haiku]\n", n=3)  # the items have gold labels
    code, out, _ = run(capsys, str(spec), "--runs-dir", str(tmp_path / "runs"), "--max-cost", "0.000001")
    assert code == 1 and api_env.model_calls == 0
    last = out.splitlines()[-1]
    assert last.startswith("experiment: 0/2 cells done, 2 skipped | no accuracy (no cell finished) | $0.000000 | ")


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def calls_in(run_dir: Path) -> int:
    path = run_dir / "outputs" / "calls.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_resume_after_kill_9_mid_cell_keeps_finished_cells_resumes_the_cut_one_starts_the_rest(
        tmp_path, capsys, monkeypatch):
    spec = write_spec(tmp_path, "  batch_size: [4, 2, 8]\n  model: [gpt4o_mini]\n", n=8)
    spec.write_text(spec.read_text().replace("concurrency: 2", "concurrency: 1"), encoding="utf-8")
    runs = tmp_path / "runs"
    with FakeAPIServer(api_key=TEST_KEY, latency=0.3) as slow:
        slow.taxonomy_pairs = taxonomy_pairs()
        env = subprocess_env(slow)
        process = subprocess.Popen([sys.executable, str(ROOT / "src" / "run_experiment.py"), str(spec),
                                    "--runs-dir", str(runs)], env=env, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        cut = None
        while cut is None:  # the second cell's run has made its first call
            assert process.poll() is None, process.communicate()
            cells_json = next(runs.glob("experiments/*/cells.json"), None)
            if cells_json is not None:
                try:
                    second = json.loads(cells_json.read_text())["cells"][1]
                except (ValueError, KeyError):
                    second = {}
                if second.get("run_dir") and calls_in(Path(second["run_dir"])) >= 1:
                    cut = Path(second["run_dir"])
            time.sleep(0.01)
        os.killpg(process.pid, signal.SIGKILL)  # the experiment and its cell, as a crash would
        process.wait()
        exp = cells_json.parent
        summary = folder_json(cut, "metadata/run_summary.json")
        assert summary["status"] == "running"
        while pid_exists(summary["pid"]):  # the killed cell is gone once its new parent (pid 1) reaps it
            time.sleep(0.01)
        first_dir = Path(json.loads(cells_json.read_text())["cells"][0]["run_dir"])
        first_calls = calls_in(first_dir)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        code, out, err = run(capsys, "--resume", str(exp))
    assert code == 0, out + err
    cells = folder_json(exp, "cells.json")["cells"]
    assert [c["state"] for c in cells] == ["done", "done", "done"]
    assert [c["resumed"] for c in cells] == [0, 1, 0]
    assert Path(cells[0]["run_dir"]) == first_dir and calls_in(first_dir) == first_calls == 2  # kept as it was
    assert folder_json(first_dir, "metadata/run_summary.json")["resumes"] == []
    assert Path(cells[1]["run_dir"]) == cut  # the cut cell finished in its own folder
    assert [r["mode"] for r in folder_json(cut, "metadata/run_summary.json")["resumes"]] == ["resume"]
    for c in cells:
        table = pd.read_csv(Path(c["run_dir"]) / "outputs" / "classifications.csv", dtype=str)
        assert table["product_id"].tolist() == IDS[:8] and set(table["status"]) == {"ok"}
    assert calls_in(Path(cells[2]["run_dir"])) == 1
    board = pd.read_csv(exp / "leaderboard.csv", dtype=str)
    assert sorted(board["run_id"]) == sorted(Path(c["run_dir"]).name for c in cells)


def test_the_shipped_specs_load_and_price(capsys):
    code, out, err = run(capsys, str(ROOT / "config" / "experiments" / "sample.yaml"), "--dry-run")
    assert code == 0, err
    names = [line.split()[0] for line in out.splitlines()[2:-2]]
    assert names == ["model=gpt4o_mini,batch_size=1", "model=gpt4o_mini,batch_size=10", "model=haiku,batch_size=1",
                     "model=haiku,batch_size=10", "model=local,batch_size=1", "model=local,batch_size=10"]
    assert out.splitlines()[-2].split()[:2] == ["total", str(3 * (86 + 9))]  # requests: 86 of 1, 9 of 10
    code, out, err = run(capsys, str(ROOT / "config" / "experiments" / "ci.yaml"), "--dry-run")
    assert (code, out.splitlines()[2].split()[:2]) == (0, ["model=gpt4o_mini", "4"]), err


# -- the response cache: a grid run twice ---------------------------------------------------------------------

def cell_dirs(exp: Path) -> list[Path]:
    return [Path(c["run_dir"]) for c in json.loads((exp / "cells.json").read_text())["cells"]]


def cached_table(run_dir: Path) -> pd.DataFrame:
    frame = pd.read_csv(run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    return frame.drop(columns=["latency_ms", "call_id"])  # which call and how fast: the only per-run columns


def usage_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "outputs" / "token_usage.json").read_text())


def test_a_grid_run_twice_bills_nothing_the_second_time_with_identical_rows(api_env, tmp_path, capsys):
    spec, runs = write_spec(tmp_path, "  model: [gpt4o_mini, haiku]\n", "\n", n=4), tmp_path / "runs"
    spec.write_text(spec.read_text().replace("  concurrency: 2\n", "  concurrency: 2\n  batch_size: 2\n"))
    code, out, err = run(capsys, str(spec), "--runs-dir", str(runs), "--parallel", "2")
    assert code == 0, err
    served = api_env.model_calls
    assert served == 4  # two requests of two products per model
    (first,) = (runs / "experiments").iterdir()

    code, out, err = run(capsys, str(spec), "--runs-dir", str(runs), "--dry-run")
    assert code == 0, err
    assert "4 requests answered by the response cache: not counted or priced above" in out
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split()[1:5] == ["0", "0", "0", "0.000000"]  # requests, input and output tokens, cost

    code, out, err = run(capsys, str(spec), "--runs-dir", str(runs), "--parallel", "2")
    assert code == 0, err
    assert api_env.model_calls == served  # the fake server's own count: not one request more
    (second,) = [e for e in (runs / "experiments").iterdir() if e != first]
    for paid, replayed in zip(cell_dirs(first), cell_dirs(second)):
        assert cached_table(replayed).equals(cached_table(paid)), replayed
        before, after = usage_of(paid), usage_of(replayed)
        assert (after["cost_usd"], after["total_tokens"], after["calls_from_cache"]) == (0, 0, before["calls_made"])
        assert after["cost_usd_from_cache"] == before["cost_usd"] > 0
        assert json.loads((replayed / "outputs" / "metrics.json").read_text())["accuracy"] == \
            json.loads((paid / "outputs" / "metrics.json").read_text())["accuracy"]
    assert (runs / ".cache" / "responses.sqlite").is_file()  # one cache for every cell, beside the run folders
