"""A grid run twice: the second time every cell is answered from the response cache and nothing is billed."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from conftest import ROOT, write_models_yaml
from labnb.experiments.cli import main

SAMPLE = ROOT / "data" / "sample_products.csv"


def write_spec(tmp_path: Path, n: int = 4) -> Path:
    home = tmp_path / "spec"
    home.mkdir()
    pd.read_csv(SAMPLE, dtype=str).head(n).to_csv(home / "items.csv", index=False)
    write_models_yaml(home / "models.yaml")
    spec = home / "exp.yaml"
    spec.write_text("name: grid\nuse_case: assign-cat\noptions:\n  input: items.csv\n  models_config: models.yaml\n"
                    "  concurrency: 2\n  batch_size: 2\ngrid:\n  model: [gpt4o_mini, haiku]\n", encoding="utf-8")
    return spec


def run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cells(exp: Path) -> list[Path]:
    return [Path(c["run_dir"]) for c in json.loads((exp / "cells.json").read_text())["cells"]]


def table(run_dir: Path) -> pd.DataFrame:
    frame = pd.read_csv(run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    return frame.drop(columns=["latency_ms", "call_id"])  # which call and how fast: the only per-run columns


def usage(run_dir: Path) -> dict:
    return json.loads((run_dir / "outputs" / "token_usage.json").read_text())


def test_a_grid_run_twice_bills_nothing_the_second_time_with_identical_rows(api_env, tmp_path, capsys):
    spec, runs = write_spec(tmp_path), tmp_path / "runs"
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
    for paid, replayed in zip(cells(first), cells(second)):
        assert table(replayed).equals(table(paid)), replayed
        before, after = usage(paid), usage(replayed)
        assert (after["cost_usd"], after["total_tokens"], after["calls_from_cache"]) == (0, 0, before["calls_made"])
        assert after["cost_usd_from_cache"] == before["cost_usd"] > 0
        assert json.loads((replayed / "outputs" / "metrics.json").read_text())["accuracy"] == \
            json.loads((paid / "outputs" / "metrics.json").read_text())["accuracy"]
    assert (runs / ".cache" / "responses.sqlite").is_file()  # one cache for every cell, beside the run folders
