"""analyze_runs never falls over: broken, foreign or torn runs are listed as unreadable or read as far as they go."""

from __future__ import annotations

import json
import zipfile

import openpyxl
from test_analyze import PAIR_X, PAIR_Y, make_run, run_cli

from labnb.analysis.runs import DEFAULT_RUNS_DIR, load_run, run_records
from labnb.run.options import PROJECT_ROOT


def broken_runs_dir(tmp_path):
    runs = tmp_path / "runs"
    good = make_run(runs, "assign-cat-2025-09-19-140000", PAIR_X)
    other = make_run(runs, "assign-cat-2025-09-19-150000", PAIR_Y)
    nested = make_run(runs, "assign-cat-2025-09-19-160000", PAIR_X)
    (nested / "metadata" / "run_summary.json").write_text("[" * 200_000 + "]" * 200_000)
    torn = make_run(runs, "assign-cat-2025-09-19-170000", PAIR_X)
    (torn / "metadata" / "run_summary.json").write_text('{"status": "runn')
    foreign = make_run(runs, "assign-cat-2025-09-19-180000", PAIR_X)
    (foreign / "metadata" / "run_summary.json").write_text(json.dumps({"counts": [1], "status": {"x": 1}}))
    odd = make_run(runs, "assign-cat-2025-09-19-190000", PAIR_X)
    (odd / "outputs" / "token_usage.json").write_text("[]")
    (runs / "half-created").mkdir()  # killed before its summary was written
    (runs / "\x1b[31mevil").mkdir()
    return runs, good, other


def test_list_shows_every_broken_folder_as_unreadable_with_its_reason(tmp_path):
    runs, good, other = broken_runs_dir(tmp_path)
    status = {r["run_id"]: r["status"] for r in run_records(runs)}
    assert status == {
        good.name: "completed", other.name: "completed",
        "assign-cat-2025-09-19-160000": "unreadable: metadata/run_summary.json: malformed JSON: nested too deeply",
        "assign-cat-2025-09-19-170000": "unreadable: metadata/run_summary.json: line 1: malformed JSON: "
                                        "Unterminated string starting at",
        "assign-cat-2025-09-19-180000": "unreadable: metadata/run_summary.json: field 'status' has the wrong type "
                                        "(dict)",
        "half-created": "unreadable: no metadata/run_summary.json",
        "\x1b[31mevil": "unreadable: no metadata/run_summary.json",
        "assign-cat-2025-09-19-190000": "unreadable: outputs/token_usage.json: expected a JSON object, got list",
    }
    out = run_cli("list", "--runs-dir", str(runs))
    assert (out.returncode, out.stderr) == (0, "")
    assert "\x1b" not in out.stdout and "\\x1b[31mevil" in out.stdout
    assert out.stdout.count("unreadable: ") == 6


def test_compare_and_report_skip_unreadable_runs(tmp_path):
    runs, good, other = broken_runs_dir(tmp_path)
    bad = runs / "assign-cat-2025-09-19-160000"
    out = run_cli("compare", str(good), str(bad), str(other), "--json")
    assert out.returncode == 0, out.stderr
    assert out.stderr.startswith(f"warning: skipped {bad}: unreadable: {bad}/metadata/run_summary.json") and \
        out.stderr.count("\n") == 1
    assert [p["run_b"] for p in json.loads(out.stdout)["pairs"]] == [other.name]
    out = run_cli("compare", str(good), str(bad))
    assert out.returncode == 2 and out.stderr.endswith("error: compare: 1 readable run; give at least two\n")
    out = run_cli("report", str(bad), str(good), "-o", str(tmp_path / "r.html"))
    assert out.returncode == 0 and out.stderr.startswith(f"warning: skipped {bad}: unreadable") and \
        (tmp_path / "r.html").is_file()


def test_a_torn_last_row_is_dropped_by_load_run_report_and_compare(tmp_path):
    runs = tmp_path / "runs"
    run = make_run(runs, "assign-cat-2025-09-19-140000", PAIR_X)
    table = run / "outputs" / "classifications.csv"
    table.write_text(table.read_text() + 'p9,"Torn, mid')
    assert load_run(run)["product_id"].tolist() == [p[0] for p in PAIR_X]
    out = run_cli("compare", str(run), str(make_run(runs, "assign-cat-2025-09-19-150000", PAIR_Y)), "--json")
    assert out.returncode == 0, out.stderr
    table.write_text("product_id,tit")  # a header torn by a crash
    assert len(load_run(run)) == 0


def test_default_runs_dir_is_the_projects_not_the_cwd(tmp_path):
    assert DEFAULT_RUNS_DIR == PROJECT_ROOT / "runs"
    out = run_cli("list", "--help", cwd=tmp_path)
    assert str(DEFAULT_RUNS_DIR) in " ".join(out.stdout.split())


def test_export_xlsx_writes_every_cell_as_text(tmp_path):
    answers = [("p1", "=HYPERLINK(\"http://x\",\"y\")", "a/a1", "a/a1"), ("p2", "+1", "a/a1", "a/a1"),
               ("p3", "-2", "a/a1", "a/a1"), ("p4", "@SUM(A1)", "a/a1", "a/a1"), ("p5", "bell\x07 tab\t", "a/a1", "")]
    run = make_run(tmp_path / "runs", "assign-cat-2025-09-19-140000", answers)
    out = run_cli("export", run.name, "--runs-dir", str(tmp_path / "runs"), "--xlsx", str(tmp_path / "c.xlsx"))
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout == f"wrote {tmp_path / 'c.xlsx'}: 5 rows, every cell as text\n"
    sheet = openpyxl.load_workbook(tmp_path / "c.xlsx").active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert [r[1] for r in rows] == ["title", '=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "bell\\x07 tab\t"]
    assert all(c.data_type == "s" for row in sheet.iter_rows() for c in row if c.value is not None)
    with zipfile.ZipFile(tmp_path / "c.xlsx") as book:
        assert "<f>" not in book.read("xl/worksheets/sheet1.xml").decode()
    import csv

    with open(run / "outputs" / "classifications.csv", newline="", encoding="utf-8") as fh:
        exact = [[v.replace("\x07", "\\x07") for v in r] for r in csv.reader(fh)]
    assert [[v or None for v in r] for r in exact] == rows  # the same cells as the CSV


def test_list_shows_the_runs_inside_experiments_and_never_calls_its_own_folders_unreadable(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, "assign-cat-2025-09-19-140000", PAIR_X)
    experiment = runs / "experiments" / "models-2025-09-19-150000"
    make_run(experiment / "runs" / "000", "assign-cat-2025-09-19-150001", PAIR_X, model="haiku")
    make_run(experiment / "runs" / "001", "assign-cat-2025-09-19-150002", PAIR_Y, model="sonnet")
    (experiment / "runs" / "002" / "assign-cat-2025-09-19-150003").mkdir(parents=True)  # killed before its summary
    (experiment / "logs").mkdir()
    (runs / "mlflow-artifacts" / "1" / "abc").mkdir(parents=True)
    (runs / "mlflow.db").write_bytes(b"SQLite format 3\x00")
    listed = [(r["run_id"], r["status"], r["model"], r.get("experiment")) for r in run_records(runs)]
    assert listed == [  # oldest first; a folder without a start time first of all
        ("assign-cat-2025-09-19-150003", "unreadable: no metadata/run_summary.json", None, "models-2025-09-19-150000"),
        ("assign-cat-2025-09-19-140000", "completed", "mini", None),
        ("assign-cat-2025-09-19-150001", "completed", "haiku", "models-2025-09-19-150000"),
        ("assign-cat-2025-09-19-150002", "completed", "sonnet", "models-2025-09-19-150000"),
    ]
    out = run_cli("list", "--runs-dir", str(runs))
    assert (out.returncode, out.stderr) == (0, "")
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["run_id", "model", "status", "items", "failures", "accuracy", "cost_usd",
                                "duration_s", "total_tokens", "input", "batch_size", "labels", "tags", "experiment"]
    assert lines[3].split()[:3] == ["assign-cat-2025-09-19-150001", "haiku", "completed"]
    assert lines[3].split()[-1] == "models-2025-09-19-150000" and lines[2].split()[-1] == "-"  # not in one
    assert out.stdout.count("unreadable") == 1 and "mlflow" not in out.stdout and "experiments " not in out.stdout
