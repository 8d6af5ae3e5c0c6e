"""--engine process: the local model streamed part by part in this process. Parquet in and out, malformed
rows, the input referenced by sha256 past the copy size, and the one-line error without Ray installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from labnb.analysis.runs import load_run
from labnb.scale import finish, snapshot
from scale.catalogs import ROOT, write_catalog

N = 150


@pytest.fixture
def run(cli):
    def go(*args: str):
        return cli("--model", "local", "--engine", "process", "--part-rows", "50", *args)

    return go


def _folder(result) -> Path:
    return Path(result.out.strip().rsplit(" | ", 1)[-1])


def _table(result) -> pd.DataFrame:
    return pd.read_csv(_folder(result) / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)


def test_parquet_directory_and_jsonl_inputs_give_the_rows_of_the_csv(tmp_path, run, cli):
    catalog = tmp_path / "catalog.csv"
    ids = write_catalog(catalog, N, malformed=False)
    frame = pd.read_csv(catalog, dtype=str, keep_default_na=False)
    shards = tmp_path / "shards"
    shards.mkdir()
    frame.iloc[:60].to_parquet(shards / "a.parquet", index=False)
    frame.iloc[60:].to_parquet(shards / "b.parquet", index=False)
    jsonl = tmp_path / "catalog.jsonl"
    lines = [json.dumps(r) for r in frame.to_dict("records")]
    lines[4] = '{"product_id": "broken", "title": '  # a torn line: that item's invalid row
    jsonl.write_text("\n".join(lines) + "\n")
    tables = {}
    for name, path in (("csv", catalog), ("parquet", shards), ("jsonl", jsonl)):
        result = run("--input", str(path), "--runs-dir", str(tmp_path / name))
        assert result.code == (1 if name == "jsonl" else 0), result.err
        tables[name] = _table(result)
        records = [json.loads(x) for x in (_folder(result) / "outputs" / "parts.jsonl").read_text().splitlines()]
        # a Parquet directory: parts never straddle files (60 + 90 rows in parts of at most 50)
        assert [r["rows"] for r in sorted(records, key=lambda r: r["part"])] == (
            [50, 10, 50, 40] if name == "parquet" else [50, 50, 50])
    csv_rows, parquet_rows, jsonl_rows = tables["csv"], tables["parquet"], tables["jsonl"]
    assert list(parquet_rows["product_id"]) == ids
    for column in ("category", "subcategory", "confidence", "status", "correct"):
        assert list(parquet_rows[column]) == list(csv_rows[column]), column
    # Without --engine, a local-model run on Parquet streams all the same (only streamed runs read Parquet).
    auto = cli("--model", "local", "--input", str(shards / "b.parquet"), "--part-rows", "50",
               "--runs-dir", str(tmp_path / "auto"))
    assert auto.code == 0, auto.err
    assert "streamed part by part in this process" in auto.err
    assert json.loads((_folder(auto) / "metadata" / "run_summary.json").read_text())["engine"] == "process"
    assert list(_table(auto)["subcategory"]) == list(csv_rows["subcategory"][60:])
    broken = jsonl_rows.iloc[4]
    assert (broken["product_id"], broken["status"], broken["error_type"]) == ("p0005", "invalid", "bad_input")
    assert broken["error"].endswith("catalog.jsonl: line 5: malformed JSON: Expecting value: line 1 column 34 "
                                    "(char 33)")
    others = jsonl_rows.drop(index=4)
    assert list(others["subcategory"]) == list(csv_rows.drop(index=4)["subcategory"])


def test_past_the_csv_size_the_table_is_parquet_parts_read_like_the_csv(tmp_path, run, monkeypatch):
    catalog = tmp_path / "catalog.csv"
    write_catalog(catalog, N)
    small = run("--input", str(catalog), "--runs-dir", str(tmp_path / "small"))
    monkeypatch.setattr(finish, "CSV_MAX_ROWS", N - 1)
    large = run("--input", str(catalog), "--runs-dir", str(tmp_path / "large"))
    assert (small.code, large.code) == (1, 1)  # the two malformed rows of write_catalog
    outputs = _folder(large) / "outputs"
    assert not (outputs / "classifications.csv").exists()
    assert sorted(p.name for p in (outputs / "classifications").iterdir()) == [
        "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    from_csv, from_parts = load_run(_folder(small)), load_run(_folder(large))
    timed = ["latency_ms"]  # the one column two runs never share
    pd.testing.assert_frame_equal(from_parts.drop(columns=timed), from_csv.drop(columns=timed))
    raw = pd.read_parquet(outputs / "classifications")
    # pandas alone sees the unscored rows' (the two malformed ones') correct as missing; load_run reads False
    assert list(raw.index[raw["correct"].isna()]) == [6, 11]
    pd.testing.assert_frame_equal(raw.assign(correct=raw["correct"].fillna(False).astype(bool)), from_parts)
    assert from_parts["latency_ms"].dtype == from_csv["latency_ms"].dtype == "float64"
    assert from_parts["confidence"].dtype == "float64" and from_parts["correct"].dtype == bool
    assert json.loads((outputs / "metrics.json").read_text()) == \
        json.loads((_folder(small) / "outputs" / "metrics.json").read_text())
    summary = json.loads((_folder(large) / "metadata" / "run_summary.json").read_text())
    assert summary["table"] == "outputs/classifications/part-*.parquet"


def test_an_input_past_the_copy_size_is_kept_by_sha256_and_resume_refuses_changed_bytes(tmp_path, run, cli,
                                                                                         monkeypatch):
    import hashlib

    catalog = tmp_path / "catalog.csv"
    write_catalog(catalog, N, malformed=False)
    monkeypatch.setattr(snapshot, "COPY_MAX_BYTES", 10)
    result = run("--input", str(catalog))
    assert result.code == 0, result.err
    ref = result.json("inputs/input_ref.json")
    assert ref["copied"] is False and not (result.run_dir / "inputs" / "input").exists()
    assert ref["files"] == [{"path": str(catalog.resolve()), "bytes": catalog.stat().st_size,
                             "sha256": hashlib.sha256(catalog.read_bytes()).hexdigest()}]
    catalog.write_text(catalog.read_text() + "x-1,Extra Whey\n")
    again = cli("--resume", str(result.run_dir))
    assert again.code == 2
    assert again.err.strip().splitlines() == [
        f"error: {catalog.resolve()}: the run's input is gone or changed since the run started (sha256 differs); "
        "a resumed run reads the very same bytes"]


def test_engine_ray_without_ray_installed_is_a_one_line_error(tmp_path):
    blocked = tmp_path / "no_ray"
    (blocked / "ray").mkdir(parents=True)
    (blocked / "ray" / "__init__.py").write_text("raise ImportError('No module named ray (blocked by the test)')\n")
    catalog = tmp_path / "catalog.csv"
    write_catalog(catalog, 10, malformed=False)
    runs = tmp_path / "runs"
    done = subprocess.run([sys.executable, str(ROOT / "src" / "run_assign_cat.py"), "--model", "local", "--input",
                           str(catalog), "--engine", "ray", "--runs-dir", str(runs)], capture_output=True, text=True,
                          env={"PYTHONPATH": f"{blocked}:{ROOT / 'src'}", "PATH": "/usr/bin:/bin"}, timeout=300)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["error: --engine ray needs Ray Data and pyarrow: pip install '.[ray]' "
                                        "(or pip install -r requirements-dev.txt)"]
    assert not runs.exists()
