"""Issue 11 §2, §4, §5, §10: signals, cancelled calls, call-log checks, torn headers, budgets, options, tags."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
from fakeapi import FakeAPIServer, Fault
from test_crash_resume import SAMPLE, lines, wait_for_calls

from conftest import ROOT, TEST_KEY, subprocess_env, write_models_yaml

CHAT = "/v1/chat/completions"
IDS = pd.read_csv(SAMPLE, dtype=str)["product_id"].tolist()
RUNNER = str(ROOT / "src" / "run_assign_cat.py")


def table(run: Path) -> pd.DataFrame:
    return pd.read_csv(run / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)


def summary_of(run: Path) -> dict:
    return json.loads((run / "metadata" / "run_summary.json").read_text())


def usage_of(run: Path) -> dict:
    return json.loads((run / "outputs" / "token_usage.json").read_text())


def start(server: FakeAPIServer, models: Path, runs: Path, *args: str) -> subprocess.Popen:
    command = [sys.executable, RUNNER, *args]
    if "--resume" not in args:
        command += ["--input", str(SAMPLE), "--model", "gpt4o_mini", "--batch-size", "1",
                    "--models-config", str(models), "--runs-dir", str(runs)]
    return subprocess.Popen(command, env=subprocess_env(server), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def interrupted_run(cli, fake_api, count: int = 6, at: int = 2) -> Path:
    """A real Ctrl-C in the middle of a run, sent by the fake server when it receives call number ``at``; that
    call is answered once the run has seen the signal (else, on a busy machine, the answer could come first and
    one more call start before the run stops taking new ones: a race of the test, not a lost call)."""
    from labnb.pacing.executor import StopSignal

    seen = threading.Event()
    stop_set = StopSignal.set

    def noticed(self: StopSignal, reason: str) -> None:
        stop_set(self, reason)
        seen.set()

    def interrupt(index: int, body: dict) -> None:
        if index == at:
            os.kill(os.getpid(), signal.SIGINT)
            assert seen.wait(30), "the run did not see the Ctrl-C"

    fake_api.fault_fn = interrupt
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StopSignal, "set", noticed)
        result = cli("--input", str(SAMPLE), "--limit", str(count), "--concurrency", "1", "--batch-size", "1")
    fake_api.fault_fn = None
    assert result.code == 130, result.err
    assert table(result.run_dir)["status"].tolist() == ["ok"] * (at + 1) + ["not_run"] * (count - at - 1)
    return result.run_dir


# -- §4 every call paid for is on record -----------------------------------------------------------------------

def test_sighup_stops_like_sigterm_and_every_served_call_is_on_record(tmp_path):
    models, runs = write_models_yaml(tmp_path / "m.yaml"), tmp_path / "runs"
    with FakeAPIServer(api_key=TEST_KEY, latency=0.3) as server:
        process = start(server, models, runs, "--limit", "30", "--concurrency", "4")
        run = wait_for_calls(runs, 5, process)
        process.send_signal(signal.SIGHUP)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 130, err
        assert summary_of(run)["status"] == "interrupted"
        calls = lines(run / "outputs" / "calls.jsonl")
        assert len(server.requests_to(CHAT)) == len(calls) and {c["status"] for c in calls} == {"ok"}
        assert len(calls) < 30 and "not run" in out
        assert usage_of(run)["calls_made"] == len(calls)


def test_a_call_slower_than_the_stop_grace_is_recorded_cancelled_and_counted(tmp_path):
    models, runs = write_models_yaml(tmp_path / "m.yaml", gpt4o_mini={"timeout": 60}), tmp_path / "runs"
    with FakeAPIServer(api_key=TEST_KEY, latency=0.05) as server:
        server.fault_fn = lambda index, body: Fault("hang", seconds=30) if index == 1 else None
        process = start(server, models, runs, "--limit", "12", "--concurrency", "2")
        run = wait_for_calls(runs, 3, process)  # three answered, so call 1 (the hung one) is in flight
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)  # waits out the 5 s grace once
        assert process.returncode == 130, err
        calls = lines(run / "outputs" / "calls.jsonl")
        assert len(server.requests_to(CHAT)) == len(calls)
        cancelled = [c for c in calls if c["status"] == "cancelled"]
        assert len(cancelled) == 1 and cancelled[0]["error_type"] == "cancelled"
        assert set(cancelled[0]["usage"].values()) == {0}
        assert {c["status"] for c in calls} == {"ok", "cancelled"}
        rows = table(run).set_index("product_id")
        assert rows.loc[cancelled[0]["item_ids"][0], "status"] == "not_run"  # resume will classify it
        assert usage_of(run)["calls_cancelled"] == 1 and summary_of(run)["calls_cancelled"] == 1
        assert "+ 1 calls cancelled in flight (usage unknown)" in out


def test_resume_refuses_a_run_whose_call_log_is_gone_or_short(cli, fake_api):
    run = interrupted_run(cli, fake_api)
    log = run / "outputs" / "calls.jsonl"
    kept = log.read_text().splitlines(keepends=True)
    before, served = table(run), len(fake_api.requests)
    log.unlink()
    again = cli("--resume", str(run))
    assert again.code == 2 and len(again.err.strip().splitlines()) == 1
    assert again.err.startswith("error: ") and str(log) in again.err and "missing" in again.err
    log.write_text(kept[0])  # the call log lost the calls of the second and third rows
    again = cli("--resume", str(run))
    assert again.code == 2 and len(again.err.strip().splitlines()) == 1
    assert str(log) in again.err and "lacks 2 calls" in again.err
    assert len(fake_api.requests) == served  # nothing re-run
    pd.testing.assert_frame_equal(table(run), before)
    assert summary_of(run)["status"] == "interrupted" and summary_of(run)["resumes"] == []


def test_a_torn_header_in_classifications_csv_is_recovered_by_resume(cli, fake_api):
    # The state of a run killed while writing its header: half a header line, nothing else written yet.
    run = interrupted_run(cli, fake_api)
    outputs = run / "outputs"
    header = (outputs / "classifications.csv").read_text().splitlines()[0]
    (outputs / "classifications.csv").write_text(header[: len(header) // 2])
    (outputs / "calls.jsonl").write_text("")
    (outputs / "calls_sent.jsonl").write_text("")  # nothing else written yet: no request sent either
    served = len(fake_api.requests_to(CHAT))
    again = cli("--resume", str(run))
    assert again.code == 0, again.err
    rows = table(run)
    assert rows.columns[0] == "product_id" and rows["product_id"].tolist() == IDS[:6]
    assert set(rows["status"]) == {"ok"}
    calls = lines(outputs / "calls.jsonl")
    assert sorted(i for c in calls for i in c["item_ids"]) == IDS[:6]  # each product on record once
    # The three answered before the Ctrl-C come from the response cache (paid once, by the first session).
    assert sorted(i for c in calls if c["cache_hit"] for i in c["item_ids"]) == IDS[:3]
    assert len(fake_api.requests_to(CHAT)) - served == 3 and len(calls) == 6
    assert summary_of(run)["status"] == "completed"


# -- §5 the budget is a budget ---------------------------------------------------------------------------------

CJK = ["有機栽培の静岡県産煎茶ティーバッグ百包入り国産無農薬", "天然ビタミンC配合美容サプリメント九十粒入り日本製",
       "深海鮫肝油カプセル大容量お徳用三ヶ月分スクワレン配合", "高濃度乳酸菌ヨーグルト風味チュアブル錠子供用六十粒",
       "纯天然蜂蜜柠檬维生素软糖儿童成人通用每日两粒装一百粒", "深海鱼油软胶囊欧米伽三高含量中老年人保健品两百粒"]
GPT4O_MINI = (0.15, 0.60)  # USD per 1M input / output tokens, config/models.yaml
MAX_COST = 0.0041  # six requests fit; counted as characters / 4, a seventh looked as if it did too


def exact_meter(server: FakeAPIServer) -> None:
    from labnb.cost.tokens import encoding

    o200k = encoding("o200k_base")
    server.meter.count = lambda text: len(o200k.encode(text))
    server.cache_min_tokens = 10**9  # no caching discount: what the server bills is what the budget counts


def call_cost(call: dict) -> float:
    return (call["usage"]["input_tokens"] * GPT4O_MINI[0] + call["usage"]["output_tokens"] * GPT4O_MINI[1]) / 1e6


def products_file(path: Path, titles: list[str], details: list[str]) -> Path:
    """Products with CJK ``titles``; ``details`` fill as many 300-character fields (the prompt's cap) as it takes."""
    width = max(1, *(len(d) // 300 + 1 for d in details))
    columns = {f"detail_{n}": [d[n * 300:(n + 1) * 300] for d in details] for n in range(width)}
    pd.DataFrame({"product_id": [f"p{i:02d}" for i in range(len(titles))], "title": titles, **columns}).to_csv(
        path, index=False)
    return path


def test_max_cost_on_cjk_titles_is_counted_like_the_dry_run(cli, fake_api, tmp_path):
    exact_meter(fake_api)
    # CJK runs at about a token a character: characters / 4 took each request for a third of its cost.
    titles = [f"{CJK[i % len(CJK)]}{i:02d}" for i in range(30)]
    source = products_file(tmp_path / "cjk.csv", titles, [CJK[(i + 1) % len(CJK)] * 40 for i in range(30)])
    max_cost = MAX_COST
    result = cli("--input", str(source), "--model", "gpt4o_mini", "--batch-size", "1", "--concurrency", "1",
                 "--max-cost", str(max_cost))
    run = result.run_dir
    calls = lines(run / "outputs" / "calls.jsonl")
    cost = usage_of(run)["cost_usd"]
    assert cost == pytest.approx(sum(call_cost(c) for c in calls)) and 0 < len(calls) < 30
    # One request at a time: none is in flight when the next is admitted, so nothing may pass the budget.
    assert cost <= max_cost
    assert cost > max_cost - 2 * max(call_cost(c) for c in calls)  # and the budget was used, not wasted
    assert summary_of(run)["status"] == "budget_exhausted" and result.code != 0
    assert table(run)["status"].tolist() == ["ok"] * len(calls) + ["not_run"] * (30 - len(calls))


def test_after_one_refusal_smaller_requests_that_fit_are_still_admitted(cli, fake_api, tmp_path):
    exact_meter(fake_api)
    titles = [f"{CJK[i % len(CJK)]}{i:02d}" for i in range(6)]
    long = CJK[0] * 480  # about 12,000 tokens: four times a short request (mostly the ~3,000-token system prompt)
    source = products_file(tmp_path / "mixed.csv", titles, ["", "", long, "", "", ""])
    one = cli("--input", str(source), "--limit", "1", "--batch-size", "1", "--no-cache")  # measure, keep nothing
    short = usage_of(one.run_dir)["cost_usd"]
    # After two short ones the long one does not fit; two more short ones do, the last one no longer.
    result = cli("--input", str(source), "--batch-size", "1", "--concurrency", "1", "--max-cost", f"{short * 4.5:.8f}")
    run = result.run_dir
    assert table(run)["status"].tolist() == ["ok", "ok", "not_run", "ok", "ok", "not_run"]
    assert summary_of(run)["status"] == "budget_exhausted"
    calls = lines(run / "outputs" / "calls.jsonl")
    assert [c["item_ids"] for c in calls] == [["p00"], ["p01"], ["p03"], ["p04"]]
    assert usage_of(run)["cost_usd"] <= short * 4.5


# -- §2 every option is honoured, or refused out loud ----------------------------------------------------------

def test_replay_honours_dry_run_max_cost_limit_batch_size_and_model(cli, fake_api):
    base = cli("--input", str(SAMPLE), "--limit", "4").run_dir
    served = len(fake_api.requests)
    dry = cli("--replay", str(base), "--dry-run", "--max-cost", "0.000001")
    assert dry.code == 0, dry.err
    assert dry.out.startswith("dry run: 4 products, batch size 1") and "nothing was sent" in dry.out
    assert len(fake_api.requests) == served and dry.run_dirs == [base]
    replay = cli("--replay", str(base), "--limit", "2", "--batch-size", "2", "--model", "haiku")
    assert replay.code == 0, replay.err
    run = replay.run_dir
    assert replay.run_dirs == sorted([base, run]) and table(run)["product_id"].tolist() == IDS[:2]
    calls = lines(run / "outputs" / "calls.jsonl")
    assert len(calls) == 1 and calls[0]["item_ids"] == IDS[:2]
    assert len(fake_api.requests_to("/v1/messages")) == 1 and len(fake_api.requests) == served + 1
    config = json.loads((run / "config" / "run_config.json").read_text())
    assert config["model_entry"]["alias"] == "haiku" and config["replay_of"] == base.name
    assert (config["options"]["batch_size"], config["options"]["limit"]) == (2, 2)


@pytest.mark.parametrize(("mode", "option", "value"), [
    ("--resume", "--model", "haiku"), ("--resume", "--limit", "3"), ("--retry-failed", "--batch-size", "4")])
def test_resume_and_retry_failed_refuse_options_that_change_the_experiment(cli, fake_api, tmp_path, mode, option,
                                                                            value):
    base = cli("--input", str(SAMPLE), "--limit", "2")
    before = (base.run_dir / "metadata" / "run_summary.json").read_text()
    served = len(fake_api.requests)
    again = cli(mode, str(base.run_dir), option, value)
    assert again.code == 2 and len(again.err.strip().splitlines()) == 1
    assert again.err.startswith(f"error: {mode} does not take {option}")
    assert len(fake_api.requests) == served and (base.run_dir / "metadata" / "run_summary.json").read_text() == before


def test_resume_takes_max_cost_concurrency_and_timeout_and_records_them(cli, fake_api):
    run = interrupted_run(cli, fake_api)
    again = cli("--resume", str(run), "--max-cost", "5", "--concurrency", "2", "--timeout", "9")
    assert again.code == 0, again.err
    assert set(table(run)["status"]) == {"ok"}
    resumes = summary_of(run)["resumes"]
    assert cli("--resume", str(run), "--concurrency", "0").code == 2  # checked as a new run checks it
    assert len(resumes) == 1 and resumes[-1]["overrides"] == {"max_cost": 5.0, "concurrency": 2, "timeout": 9.0}


def test_explain_with_the_local_model_is_refused(cli):
    result = cli("--input", str(SAMPLE), "--limit", "1", "--model", "local", "--explain")
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1
    assert result.err.startswith("error: ") and "--explain" in result.err and result.run_dirs == []


# -- §10 tags, notes, what list shows; the local model's latency per item --------------------------------------

def test_tags_and_note_are_recorded_and_listed(cli, fake_api, capsys):
    from analyze_runs import main as analyze

    first = cli("--input", str(SAMPLE), "--limit", "3", "--batch-size", "2", "--tag", "a", "--tag", "b",
                "--note", "first try").run_dir
    second = cli("--input", str(SAMPLE), "--limit", "3").run_dir
    summary = summary_of(first)
    assert (summary["tags"], summary["note"]) == (["a", "b"], "first try")
    assert analyze(["list", "--runs-dir", str(cli.runs_dir), "--json"]) == 0
    listed = {r["run_id"]: r for r in json.loads(capsys.readouterr().out)}
    row = listed[first.name]
    assert (row["tags"], row["note"], row["input"], row["batch_size"], row["labels"]) == (
        "a,b", "first try", "sample_products.csv", 2, "taxonomy.xml")
    assert listed[second.name]["tags"] == ""
    assert analyze(["list", "--runs-dir", str(cli.runs_dir)]) == 0
    text = capsys.readouterr().out
    assert all(name in text.splitlines()[0] for name in ("tags", "input", "batch_size", "labels"))
    assert analyze(["compare", str(first), str(second), "--json"]) == 0
    compared = json.loads(capsys.readouterr().out)
    assert "first try" in json.dumps(compared) and "a,b" in json.dumps(compared)


def test_local_latency_per_row_is_its_share_of_the_batch_call(cli):
    result = cli("--input", str(SAMPLE), "--limit", "4", "--model", "local", "--batch-size", "4")
    assert result.code == 0, result.err
    calls = lines(result.run_dir / "outputs" / "calls.jsonl")
    assert len(calls) == 1 and calls[0]["item_ids"] == IDS[:4]
    latencies = pd.to_numeric(table(result.run_dir)["latency_ms"]).tolist()  # written with one decimal
    assert latencies == [round(calls[0]["latency_ms"] / 4, 1)] * 4
    assert sum(latencies) == pytest.approx(calls[0]["latency_ms"], abs=4 * 0.05)


# -- §3 one writer per run folder ------------------------------------------------------------------------------

def test_resume_of_a_run_another_live_process_writes_is_refused_at_once(tmp_path):
    models, runs = write_models_yaml(tmp_path / "m.yaml"), tmp_path / "runs"
    with FakeAPIServer(api_key=TEST_KEY, latency=0.5) as server:
        process = start(server, models, runs, "--limit", "40", "--concurrency", "1")
        run = wait_for_calls(runs, 1, process)
        try:
            second = subprocess.run([sys.executable, RUNNER, "--resume", str(run)], env=subprocess_env(server),
                                    capture_output=True, text=True, timeout=60)
            assert process.poll() is None  # the first run was still going when the resume was refused
            assert second.returncode == 2 and len(second.stderr.strip().splitlines()) == 1
            assert second.stderr.startswith(f"error: {run}: ")
            assert summary_of(run)["resumes"] == [] and summary_of(run)["pid"] == process.pid
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()


def test_resume_of_a_run_whose_lock_another_process_holds_is_refused_at_once(cli, fake_api):
    from labnb.store import runlock

    run = interrupted_run(cli, fake_api)
    runlock.release_all()  # the in-process run above is over: its lock goes, as at the end of a command
    holder = subprocess.Popen(  # a second process writing the run (e.g. a batch --wait), not marked "running"
        [sys.executable, "-c", "import sys; from pathlib import Path; from labnb.store import runlock; "
         "lock = runlock.acquire(Path(sys.argv[1])); print('locked', flush=True); sys.stdin.read()", str(run)],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        served = len(fake_api.requests)
        again = cli("--resume", str(run))
        assert again.code == 2 and len(again.err.strip().splitlines()) == 1
        assert again.err.startswith(f"error: {run}: in use by another process (pid {holder.pid})")
        assert len(fake_api.requests) == served and summary_of(run)["status"] == "interrupted"
    finally:
        holder.communicate("")
