"""--engine ray on a local Ray (2 CPUs, one for the session): the same rows and metrics as --engine process,
a malformed row as that item's invalid row, and kill -9 of the driver then --resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from scale.catalogs import BAD_LINES, ROOT, write_catalog
from scale.engines import assert_engines_agree, table
from scale.killing import kill_after_parts
from scale.raycluster import ray_address  # noqa: F401  (the session's Ray, a fixture)

N = 2000
PART_ROWS = 250


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "src" / "run_assign_cat.py"), *args],
                          capture_output=True, text=True, timeout=900, **kwargs)


def _folder(runs: Path) -> Path:
    (folder,) = list(runs.iterdir())
    return folder


def _records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "outputs" / "parts.jsonl").read_text().splitlines()]


def test_ray_gives_the_same_rows_and_metrics_as_in_process(tmp_path, ray_address):  # noqa: F811
    catalog = tmp_path / "catalog.csv"
    ids = write_catalog(catalog, N)
    folders = {}
    for engine in ("process", "ray"):
        runs = tmp_path / engine
        extra = ["--ray-address", ray_address, "--concurrency", "2"] if engine == "ray" else []
        done = _run(["--model", "local", "--input", str(catalog), "--engine", engine, "--part-rows",
                     str(PART_ROWS), "--runs-dir", str(runs), *extra])
        assert done.returncode == 1, done.stderr[-2000:]  # two invalid rows: completed_with_errors
        assert done.stdout.startswith(f"completed_with_errors: {N - 2} classified, 2 failed | accuracy ")
        folders[engine] = _folder(runs)
    _, ray = assert_engines_agree(folders, "product_id", ids, ("category", "subcategory", "status", "error_type",
                                                               "error", "correct", "call_id", "raw_response"), N, 2)
    metrics = json.loads((folders["ray"] / "outputs" / "metrics.json").read_text())
    assert metrics["error_type_counts"] == {"bad_input": 2}
    for engine, folder in folders.items():
        records = _records(folder)
        assert sorted(r["part"] for r in records) == list(range(N // PART_ROWS))
        assert sum(r["rows"] for r in records) == N
        summary = json.loads((folder / "metadata" / "run_summary.json").read_text())
        assert (summary["engine"], summary["status"], summary["counts"]) == (
            engine, "completed_with_errors", {"ok": N - 2, "invalid": 2, "error": 0, "not_run": 0, "total": N})
    # A malformed row is that item's invalid row, naming its line; its neighbours are classified.
    bad = ray.set_index("product_id").loc[[ids[i - 1] for i in BAD_LINES]]
    assert list(bad["status"]) == ["invalid", "invalid"]
    assert bad["error"].iloc[0].endswith(f"catalog.csv: line {7 + 1}: 8 fields but the header has 6")
    assert bad["error"].iloc[1].endswith(f"catalog.csv: line {12 + 1}: empty title")
    assert ray.loc[ray["product_id"] == ids[7], "status"].item() == "ok"
    # The actors loaded the fitted model: the driver shipped it; no actor refitted (one worker per actor).
    workers = {r["worker"] for r in _records(folders["ray"])}
    assert 1 <= len(workers) <= 2 and str(os.getpid()) not in {w.split(":")[1] for w in workers}


def test_kill_9_of_the_driver_then_resume_redoes_only_unrecorded_parts(tmp_path, ray_address):  # noqa: F811
    catalog = tmp_path / "catalog.csv"
    ids = write_catalog(catalog, N, malformed=False)
    runs = tmp_path / "runs"
    driver = subprocess.Popen(
        [sys.executable, str(ROOT / "src" / "run_assign_cat.py"), "--model", "local", "--input", str(catalog),
         "--engine", "ray", "--ray-address", ray_address, "--concurrency", "1", "--part-rows", str(PART_ROWS),
         "--runs-dir", str(runs)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_after_parts(driver, runs)
    folder = _folder(runs)
    before = {r["part"] for r in _records(folder)}
    assert 2 <= len(before) < N // PART_ROWS
    assert not (folder / "outputs" / "classifications.csv").exists()
    done = _run(["--resume", str(folder), "--ray-address", ray_address])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(f"completed: {N} classified, 0 failed")
    records = _records(folder)
    first, second = [r for r in records if r["session"] == 1], [r for r in records if r["session"] == 2]
    assert {r["part"] for r in first} == before
    assert {r["part"] for r in second} == set(range(N // PART_ROWS)) - before  # nothing finished was redone
    assert len(records) == N // PART_ROWS
    rows = table(folder)
    assert list(rows["product_id"]) == ids  # every item exactly once, in input order
    assert set(rows["status"]) == {"ok"}
    summary = json.loads((folder / "metadata" / "run_summary.json").read_text())
    assert [s["mode"] for s in summary["sessions"]] == ["new", "resume"]
    assert summary["sessions"][1]["parts"] == N // PART_ROWS - len(before)
