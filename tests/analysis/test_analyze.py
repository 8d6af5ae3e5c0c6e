"""Run analysis: loading run folders, comparing runs, the HTML report and the analyze_runs.py CLI."""

from __future__ import annotations

import base64
import csv
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
import pandas as pd
import pytest

from labnb.analysis.compare import agreement, compare_runs
from labnb.analysis.report import write_report
from labnb.analysis.runs import RunNotFound, load_run, load_runs
from labnb.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "src" / "analyze_runs.py"
COLUMNS = ["product_id", "title", "category", "subcategory", "raw_response", "model_used", "status", "error_type",
           "error", "latency_ms", "confidence", "call_id"]
GOLD = ["expected_category", "expected_subcategory", "correct"]
NOW = datetime(2025, 9, 19, 14, 30, tzinfo=UTC)


def make_run(runs_dir: Path, run_id: str, answers: list[tuple], *, status: str = "completed", model: str = "mini",
             cost: float = 0.01, duration: float = 12.5, tokens: int = 1000, updated_at: datetime = NOW,
             accuracy: float | None = None, tags: tuple[str, ...] = ()) -> Path:
    """A run folder as the run loop writes it. ``answers``: (product_id, title, answer, gold) where answer is
    "cat/sub", "error:TYPE", "invalid:cat/sub" or "not_run", and gold "cat/sub" or "" (no gold column at all
    when every gold is "")."""
    run = runs_dir / run_id
    for sub in ("outputs", "metadata", "config", "inputs"):
        (run / sub).mkdir(parents=True)
    has_gold = any(a[3] for a in answers)
    rows, counts = [], {"ok": 0, "invalid": 0, "error": 0, "not_run": 0}
    for n, (pid, title, answer, gold) in enumerate(answers):
        kind, _, rest = answer.rpartition(":") if ":" in answer else ("ok", "", answer)
        status_ = "not_run" if answer == "not_run" else kind
        cat, _, sub = rest.partition("/") if status_ in ("ok", "invalid") else ("", "", "")
        error_type = {"ok": "", "invalid": "invalid_label", "not_run": "not_run"}.get(status_, rest)
        counts[status_] += 1
        latency = "" if status_ == "not_run" else str(100.0 * (n // 2 + 1))  # two products per call
        row = [pid, title, cat, sub, f'{{"category": "{cat}"}}', f"openai/{model}", status_, error_type,
               error_type and f"failed: {error_type}", latency, "0.9" if status_ == "ok" else "",
               "" if status_ == "not_run" else f"call-{n // 2}"]
        if has_gold:
            ec, _, es = gold.partition("/")
            row += [ec, es, str(status_ == "ok" and answer == gold)]
        rows.append(row)
    with open(run / "outputs" / "classifications.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([COLUMNS + (GOLD if has_gold else []), *rows])
    calls = {row[-1 - 3 * has_gold]: float(row[9]) for row in rows if row[9]}  # call id -> its latency
    (run / "outputs" / "calls.jsonl").write_text("".join(
        json.dumps({"call_id": c, "latency_ms": latency}) + "\n" for c, latency in calls.items()), encoding="utf-8")
    write = lambda rel, data: (run / rel).write_text(json.dumps(data, sort_keys=True, indent=2), encoding="utf-8")  # noqa: E731
    write("outputs/token_usage.json", {
        "total_prompt_tokens": tokens - 100, "total_completion_tokens": 100, "cached_prompt_tokens": 0,
        "cache_write_tokens": 0, "total_tokens": tokens, "calls_made": 3, "retries": 1,
        "model_used": f"openai/{model}", "cost_usd": cost, "cost_breakdown": {}, "pricing": {}})
    write("outputs/timing.json", {"total_duration_seconds": duration, "products_processed": len(answers),
                                  "errors_count": counts["error"], "average_time_per_product": 1.0,
                                  "latency_p50_ms": 200.0, "latency_p95_ms": 300.0})
    summary = {"run_id": run_id, "use_case": "assign-cat", "status": status, "started_at": "2025-09-19T14:00:00+00:00",
               "ended_at": "2025-09-19T14:00:12+00:00", "updated_at": updated_at.isoformat(), "model_alias": model,
               "model_id": model, "model_used": f"openai/{model}", "counts": {**counts, "total": len(answers)},
               "resumes": [], "command": "run_assign_cat.py", "tags": list(tags),
               "git": {"commit": "abc", "dirty": False},
               "file_sha256": {}}
    if accuracy is not None:
        summary["accuracy"] = accuracy
    write("metadata/run_summary.json", summary)
    write("config/run_config.json", {"model": model, "batch_size": 2, "input": "products.csv"})
    return run


# Hand-made pair. Over p1-p6 (answered by both) the labels are
#   X: a/a1 a/a1 b/b1 b/b1 c/c1 a/a1
#   Y: a/a1 b/b1 b/b1 b/b1 c/c1 c/c1      -> equal on p1 p3 p4 p5: agreement 4/6 = 0.666667
# Kappa: p_o = 4/6 = 24/36. Marginals X: a/a1 3, b/b1 2, c/c1 1; Y: a/a1 1, b/b1 3, c/c1 2.
#   p_e = (3*1 + 2*3 + 1*2) / 36 = 11/36;  kappa = (24/36 - 11/36) / (1 - 11/36) = 13/25 = 0.52
# p7 failed in Y (left out of agreement, shown as a disagreement); p8 exists only in X.
PAIR_X = [("p1", "Whey", "a/a1", "a/a1"), ("p2", "<script>alert(1)</script>", "a/a1", "b/b1"),
          ("p3", "Casein", "b/b1", "b/b1"),
          ("p4", "Bar", "b/b1", "b/b1"), ("p5", "Zinc", "c/c1", "c/c1"), ("p6", "Iron & Co", "a/a1", "c/c1"),
          ("p7", "Fish oil", "a/a1", "a/a1"), ("p8", "Only in X", "c/c1", "c/c1")]
PAIR_Y = [("p1", "Whey", "a/a1", "a/a1"), ("p2", "<script>alert(1)</script>", "b/b1", "b/b1"),
          ("p3", "Casein", "b/b1", "b/b1"),
          ("p4", "Bar", "b/b1", "b/b1"), ("p5", "Zinc", "c/c1", "c/c1"), ("p6", "Iron & Co", "c/c1", "c/c1"),
          ("p7", "Fish oil", "error:timeout", "a/a1")]


@pytest.fixture
def pair(tmp_path):
    runs = tmp_path / "runs"
    x = make_run(runs, "assign-cat-2025-09-19-140000", PAIR_X, model="mini", cost=0.02, tokens=5000)
    y = make_run(runs, "assign-cat-2025-09-19-150000", PAIR_Y, model="big", cost=0.30, tokens=6000)
    return x, y


def test_load_run_types_and_attrs(pair):
    df = load_run(pair[0])
    assert df.columns.tolist() == COLUMNS + GOLD
    assert df["product_id"].tolist() == [f"p{i}" for i in range(1, 9)]
    assert df["latency_ms"].tolist() == [100.0, 100.0, 200.0, 200.0, 300.0, 300.0, 400.0, 400.0]
    assert df["correct"].tolist() == [True, False, True, True, True, False, True, True]
    assert set(df.attrs) == {"run_id", "summary", "token_usage", "timing", "metrics", "run_config", "path",
                              "use_case"}
    assert df.attrs["run_id"] == "assign-cat-2025-09-19-140000"
    assert df.attrs["token_usage"]["cost_usd"] == 0.02
    assert df.attrs["run_config"]["batch_size"] == 2
    # No metrics.json in the folder: computed on load. 6 of 8 pairs right (p2, p6 wrong).
    assert (df.attrs["metrics"]["accuracy"], df.attrs["metrics"]["n_scored"]) == (0.75, 8)
    (pair[0] / "outputs" / "metrics.json").write_text('{"accuracy": 0.1}', encoding="utf-8")
    assert load_run(pair[0]).attrs["metrics"] == {"accuracy": 0.1}  # the run's own metrics.json wins


def test_load_run_by_id_and_errors(pair, tmp_path):
    assert load_run("assign-cat-2025-09-19-150000", runs_dir=tmp_path / "runs").attrs["summary"]["model_alias"] == "big"
    with pytest.raises(RunNotFound, match=r"^.*elsewhere: not a run folder \(no metadata/run_summary.json inside\)$"):
        load_run((tmp_path / "elsewhere").mkdir() or tmp_path / "elsewhere")
    with pytest.raises(RunNotFound, match=r"^nope: no such run folder, nor a run id under .*runs/"):
        load_run("nope", runs_dir=tmp_path / "runs")
    assert issubclass(RunNotFound, InputError)
    (pair[0] / "metadata" / "run_summary.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(InputError, match=r"run_summary.json: line 1: malformed JSON"):
        load_run(pair[0])


def test_agreement_and_kappa_match_hand_computation(pair):
    x, y = load_run(pair[0]), load_run(pair[1])
    assert agreement(x, y) == {"n_both": 7, "n_compared": 6, "n_agree": 4, "agreement": 0.666667, "kappa": 0.52}


def test_kappa_is_none_when_both_runs_give_one_label(tmp_path):
    a = load_run(make_run(tmp_path, "r1", [("p1", "t", "a/a1", ""), ("p2", "t", "a/a1", "")]))
    b = load_run(make_run(tmp_path, "r2", [("p1", "t", "a/a1", ""), ("p2", "t", "a/a1", "")]))
    assert agreement(a, b) == {"n_both": 2, "n_compared": 2, "n_agree": 2, "agreement": 1.0, "kappa": None}


def test_compare_side_by_side_and_disagreements(pair):
    result = compare_runs([load_run(pair[0]), load_run(pair[1])])
    side = result.runs.set_index("run_id")
    assert side["model"].tolist() == ["mini", "big"]
    assert side["cost_usd"].tolist() == [0.02, 0.30]
    assert side["total_tokens"].tolist() == [5000, 6000]
    assert side["failures"].tolist() == [0, 1]
    assert side["accuracy"].tolist() == [0.75, 0.857143]  # Y: 6 of 7 right (p7 failed counts as wrong)
    assert result.disagreements.to_dict("records") == [
        {"product_id": "p2", "title": "<script>alert(1)</script>", "assign-cat-2025-09-19-140000": "a/a1",
         "assign-cat-2025-09-19-150000": "b/b1", "gold": "b/b1"},
        {"product_id": "p6", "title": "Iron & Co", "assign-cat-2025-09-19-140000": "a/a1",
         "assign-cat-2025-09-19-150000": "c/c1", "gold": "c/c1"},
        {"product_id": "p7", "title": "Fish oil", "assign-cat-2025-09-19-140000": "a/a1",
         "assign-cat-2025-09-19-150000": "error: timeout", "gold": "a/a1"},
    ]


def test_load_runs_flags_stale_running_and_interrupted(tmp_path):
    answers = [("p1", "t", "a/a1", "a/a1"), ("p2", "t", "not_run", "a/a1")]
    make_run(tmp_path, "assign-cat-2025-09-19-140000", answers, status="completed", accuracy=1.0)
    make_run(tmp_path, "assign-cat-2025-09-19-140100", answers, status="running",
             updated_at=NOW - timedelta(seconds=10))  # fresh heartbeat
    make_run(tmp_path, "assign-cat-2025-09-19-140200", answers, status="running",
             updated_at=NOW - timedelta(minutes=5))  # stale: STALE_AFTER_SECONDS is 30
    make_run(tmp_path, "assign-cat-2025-09-19-140300", answers, status="interrupted")
    (tmp_path / "not-a-run").mkdir()  # listed as unreadable, first (it has no start time)
    table = load_runs(tmp_path, now=NOW)
    assert table["status"].iloc[0] == "unreadable: no metadata/run_summary.json"
    table = table.iloc[1:]
    assert table["status"].tolist() == ["completed", "running", "crashed?", "interrupted"]
    assert table["items"].tolist() == [2, 2, 2, 2]
    assert table["not_run"].tolist() == [1, 1, 1, 1]
    assert table["accuracy"].tolist() == [1.0, 1.0, 1.0, 1.0]  # summary's, else metrics (p2 not run: 1/1)


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CLI), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_cli_list_json(tmp_path):
    fresh = datetime.now(UTC)
    answers = [("p1", "t", "a/a1", "a/a1"), ("p2", "t", "error:timeout", "a/a1")]
    make_run(tmp_path, "assign-cat-2025-09-19-140000", answers,
             status="running", updated_at=fresh - timedelta(minutes=10), cost=0.5, duration=3.0, tokens=700)
    out = run_cli("list", "--runs-dir", str(tmp_path), "--json")
    assert (out.returncode, out.stderr) == (0, "")
    assert json.loads(out.stdout) == [{
        "run_id": "assign-cat-2025-09-19-140000", "use_case": "assign-cat", "model": "mini",
        "model_used": "openai/mini", "status": "crashed?", "started_at": "2025-09-19T14:00:00+00:00",
        "items": 2, "ok": 1, "failures": 1, "not_run": 0, "accuracy": 0.5, "category_accuracy": 0.5,
        "cost_usd": 0.5, "duration_s": 3.0, "total_tokens": 700, "prompt_tokens": 600, "completion_tokens": 100,
        "calls": 3, "retries": 1, "latency_p50_ms": 200.0, "latency_p95_ms": 300.0,
        "tags": "", "note": "", "input": "products.csv", "batch_size": 2, "labels": "",
        "path": str(tmp_path / "assign-cat-2025-09-19-140000"),
    }]
    assert out.stdout == json.dumps(json.loads(out.stdout), sort_keys=True, indent=2) + "\n"


def test_cli_not_a_run_folder_is_one_line_exit_2(tmp_path):
    (tmp_path / "plain").mkdir()
    out = run_cli("compare", str(tmp_path / "plain"), "nope", "--runs-dir", str(tmp_path))
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr == f"error: {tmp_path / 'plain'}: not a run folder (no metadata/run_summary.json inside)\n"
    out = run_cli("report", "missing-id", "-o", str(tmp_path / "r.html"), "--runs-dir", str(tmp_path))
    assert out.returncode == 2
    assert out.stderr == (f"error: missing-id: no such run folder, nor a run id under {tmp_path}/ "
                          "(see: analyze_runs.py list)\n")


def test_cli_compare_by_id_writes_disagreements_csv(pair, tmp_path):
    out_csv = tmp_path / "dis.csv"
    out = run_cli("compare", pair[0].name, pair[1].name, "--runs-dir", str(tmp_path / "runs"), "--out", str(out_csv),
                  "--json")
    assert (out.returncode, out.stderr) == (0, "")
    data = json.loads(out.stdout)
    assert data["pairs"] == [{"run_a": pair[0].name, "run_b": pair[1].name, "n_both": 7, "n_compared": 6,
                              "n_agree": 4, "agreement": 0.666667, "kappa": 0.52}]
    assert [d["product_id"] for d in data["disagreements"]] == ["p2", "p6", "p7"]
    assert pd.read_csv(out_csv, dtype=str)["product_id"].tolist() == ["p2", "p6", "p7"]


def test_report_is_self_contained_html(pair, tmp_path):
    path = write_report([pair[0], pair[1]], tmp_path / "out" / "report.html")
    doc = lxml.html.fromstring(path.read_bytes())
    images = doc.xpath("//img")
    # cost vs accuracy, per-category accuracy, one confusion matrix per run, latency distribution
    assert len(images) == 5
    for img in images:
        src = img.get("src")
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    assert doc.xpath("//script | //link | //iframe") == []  # the product title "<script>" stayed text
    assert all(not v.startswith(("http:", "https:", "//")) for v in doc.xpath("//@src | //@href"))
    headings = [h.text_content() for h in doc.xpath("//h2")]
    assert headings == ["Runs", "Agreement between runs", "Cost vs accuracy", "Accuracy per gold category",
                        "Confusion matrices (category level; (none) = failed answer)", "Latency distribution",
                        "Disagreements (3 products)"]
    runs_table, pairs_table, category_table, dis_table = doc.xpath("//table")
    # runs named by model (no tags), numbers rounded as the summary line rounds them, the id last
    assert [td.text_content() for td in runs_table.xpath(".//tbody/tr[1]/td")] == [
        f"mini{pair[0].name}", "mini", "completed", "8", "8", "0", "75.0%", "$0.020000", "5,000", "12.5 s", "200 ms",
        "300 ms"]
    assert [td.text_content() for td in pairs_table.xpath(".//tbody/tr/td")] == [
        "mini", "big", "7", "6", "4", "66.7%", "0.520"]
    # whole answer right per gold category. X: a 2/2 (p1 p7), b 2/3 (p3 p4), c 2/3 (p5 p8). Y: a 1/2 (p7 failed),
    # b 3/3, c 2/2.
    assert [[td.text_content() for td in tr.xpath("td")] for tr in category_table.xpath(".//tbody/tr")] == [
        ["a", "100.0%", "50.0%"], ["b", "66.7%", "100.0%"], ["c", "66.7%", "100.0%"]]
    assert [th.text_content() for th in dis_table.xpath(".//th")] == ["product_id", "title", "mini", "big", "gold"]
    assert [[td.text_content() for td in tr.xpath("td")] for tr in dis_table.xpath(".//tbody/tr")] == [
        ["p2", "<script>alert(1)</script>", "✗ a/a1", "✓ b/b1", "b/b1"],
        ["p6", "Iron & Co", "✗ a/a1", "✓ c/c1", "c/c1"],
        ["p7", "Fish oil", "✓ a/a1", "✗ error: timeout", "a/a1"]]
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in path.read_text(encoding="utf-8")


def test_cli_report_writes_the_file(pair, tmp_path):
    out = run_cli("report", str(pair[0]), "-o", str(tmp_path / "r.html"))
    assert (out.returncode, out.stderr, out.stdout) == (0, "", f"wrote {tmp_path / 'r.html'}\n")
    assert lxml.html.fromstring((tmp_path / "r.html").read_bytes()).xpath("count(//img)") == 4.0
