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

from assign_cat.products import load_products
from conftest import ROOT, TEST_KEY, subprocess_env, taxonomy_pairs, write_models_yaml
from fakeapi import FakeAPIServer
from labnb.experiments.cli import main

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
    code, out, err = run(capsys, str(spec), "--runs-dir", str(tmp_path / "runs"))
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


def test_fail_under_gates_the_best_cell(api_env, tmp_path, capsys):
    spec = write_spec(tmp_path, "  model: [haiku]\n", n=4)
    code, out, _ = run(capsys, str(spec), "--runs-dir", str(tmp_path / "runs"), "--fail-under", "accuracy=0.76")
    assert code == 4 and out.strip().splitlines()[-1] == "gate failed: model=haiku accuracy 0.750 < 0.76"
    exp = only_experiment(tmp_path / "runs")
    from labnb.experiments import experiment
    from labnb.experiments.gate import parse_fail_under

    spec_, folder, _, cells = experiment.reopen(exp)
    assert experiment.finish(spec_, folder, cells, [parse_fail_under("accuracy=0.75")]).exit_code == 0
