"""The response cache: a request answered once is not paid for again; what is not a clean answer is never kept."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap

import pandas as pd
from fakeapi import Fault

from conftest import ROOT

TITLES = ["Vitamin D3 5000 IU", "Ashwagandha Capsules", "Krill Oil 500 mg"]
CHAT = "/v1/chat/completions"


def write_items(path, titles=TITLES):
    pd.DataFrame({"product_id": [f"p{i}" for i in range(1, len(titles) + 1)], "title": titles}).to_csv(
        path, index=False)
    return path


def calls(run_dir):
    return [json.loads(line) for line in (run_dir / "outputs" / "calls.jsonl").read_text().splitlines()]


def rows(run_dir):
    table = pd.read_csv(run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    return table.drop(columns=["latency_ms", "call_id"])  # which call, and how fast: the only per-run columns


def cache_rows(cli):
    with sqlite3.connect(cli.runs_dir / ".cache" / "responses.sqlite") as db:
        return db.execute("SELECT key, run_id, cost_usd FROM responses").fetchall()


def test_a_second_run_is_answered_from_the_cache_bills_nothing_and_keeps_every_row(cli, fake_api, tmp_path):
    items = write_items(tmp_path / "items.csv")
    first = cli("--input", str(items))
    assert first.code == 0, first.err
    first_dir = first.run_dir
    paid = first.json("outputs/token_usage.json")
    assert len(fake_api.requests_to(CHAT)) == 3 and paid["calls_from_cache"] == 0 and paid["cost_usd"] > 0
    assert {r[1] for r in cache_rows(cli)} == {first_dir.name} and len(cache_rows(cli)) == 3

    second = cli("--input", str(items))
    assert second.code == 0, second.err
    assert len(fake_api.requests_to(CHAT)) == 3  # the fake server's own log: nothing more reached it
    assert rows(second.run_dir).equals(rows(first_dir))
    replayed = sorted(calls(second.run_dir), key=lambda c: c["item_ids"])
    assert [(c["cache_hit"], c["cached_from"], c["status"]) for c in replayed] == [(True, first_dir.name, "ok")] * 3
    assert [c["usage"] for c in replayed] == [c["usage"] for c in sorted(calls(first_dir), key=lambda c: c["item_ids"])]
    usage = second.json("outputs/token_usage.json")
    assert usage["cost_usd"] == 0 and usage["total_tokens"] == 0 and usage["calls_from_cache"] == 3
    assert usage["cost_usd_from_cache"] == paid["cost_usd"] and usage["cache_replayed_tokens"] == paid["total_tokens"]
    summary = second.json("metadata/run_summary.json")
    assert summary["cost_usd"] == 0 and summary["cost_usd_from_cache"] == paid["cost_usd"]
    assert f"| $0.000000 billed, ${paid['cost_usd']:.6f} from cache |" in second.out


def test_no_cache_sends_every_request_and_keeps_nothing(cli, fake_api, tmp_path):
    items = write_items(tmp_path / "items.csv")
    cli("--input", str(items))
    again = cli("--input", str(items), "--no-cache")
    assert again.code == 0 and len(fake_api.requests_to(CHAT)) == 6
    assert not any(c["cache_hit"] for c in calls(again.run_dir)) and len(cache_rows(cli)) == 3
    assert json.loads((again.run_dir / "config" / "run_config.json").read_text())["options"]["no_cache"] is True


def test_a_changed_item_or_prompt_misses_and_deliberate_repeats_stay_distinct(cli, fake_api, tmp_path):
    cli("--input", str(write_items(tmp_path / "items.csv")))
    changed = cli("--input", str(write_items(tmp_path / "changed.csv", [*TITLES[:2], "Krill Oil 1000 mg"])))
    assert changed.code == 0 and len(fake_api.requests_to(CHAT)) == 4  # only the changed item was sent
    hits = {c["item_ids"][0]: c["cache_hit"] for c in calls(changed.run_dir)}
    assert hits == {"p1": True, "p2": True, "p3": False}
    explained = cli("--input", str(tmp_path / "items.csv"), "--explain")  # another system prompt and schema
    assert explained.code == 0 and len(fake_api.requests_to(CHAT)) == 7
    # The same product twice in one run is two requests: the second is replicate 1, its own cache entry.
    # (Products are numbered in the prompt, not named by id: both requests are byte for byte the same.)
    twice = write_items(tmp_path / "twice.csv", [TITLES[0], TITLES[0]])
    first = cli("--input", str(twice))
    assert len(fake_api.requests_to(CHAT)) == 8  # replicate 0 came from the first run; replicate 1 was sent
    assert sorted(c["cache_hit"] for c in calls(first.run_dir)) == [False, True]
    again = cli("--input", str(twice))
    assert len(fake_api.requests_to(CHAT)) == 8 and [c["cache_hit"] for c in calls(again.run_dir)] == [True, True]


def test_errors_refusals_truncated_and_invalid_answers_are_never_kept(cli, fake_api, tmp_path):
    items = write_items(tmp_path / "items.csv", TITLES[:1])
    for faults in ([Fault("status", status=500)] * 3, [Fault("refusal")], [Fault("truncated")],
                   [Fault("invalid_label", variant="unknown")]):
        fake_api.faults = list(faults)
        failed = cli("--input", str(items))
        assert failed.code == 1, failed.err
        assert not (cli.runs_dir / ".cache" / "responses.sqlite").exists() or cache_rows(cli) == []
    before = len(fake_api.requests_to(CHAT))
    ok = cli("--input", str(items))  # the next run asks again, and this clean answer is kept
    assert ok.code == 0 and len(fake_api.requests_to(CHAT)) == before + 1 and len(cache_rows(cli)) == 1


def test_dry_run_counts_what_the_cache_answers_and_prices_only_the_rest(cli, fake_api, tmp_path):
    items = write_items(tmp_path / "items.csv")
    cold = cli("--input", str(items), "--dry-run")
    assert not (cli.runs_dir / ".cache").exists()  # a dry run never creates the cache
    cli("--input", str(write_items(tmp_path / "two.csv", TITLES[:2])))
    warm = cli("--input", str(items), "--dry-run")
    assert warm.code == 0 and len(fake_api.requests_to(CHAT)) == 2

    def row(out):
        line = next(x for x in out.splitlines() if x.startswith("gpt4o_mini"))
        return line.split()

    cold_row, warm_row = row(cold.out), row(warm.out)
    assert (cold_row[1], warm_row[1]) == ("3", "1")  # requests still to send
    one_cost = float(cold_row[5]) / 3
    assert abs(float(warm_row[5]) - one_cost) < 2e-6  # the same three requests, priced alike within a cent's millionth
    assert (f"response cache {cli.runs_dir / '.cache' / 'responses.sqlite'}: 2 requests answered from it, "
            "not counted or priced above (--no-cache to price every request)") in warm.out
    nocache = cli("--input", str(items), "--dry-run", "--no-cache")
    assert row(nocache.out)[1] == "3" and "answered from it" not in nocache.out


def test_a_budget_does_not_count_cache_hits_as_spend(cli, fake_api, tmp_path):
    items = write_items(tmp_path / "items.csv")
    paid = cli("--input", str(items)).json("outputs/token_usage.json")["cost_usd"]
    again = cli("--input", str(items), "--max-cost", f"{paid / 3:.8f}")  # less than the whole run cost
    assert again.code == 0, again.err
    assert again.json("metadata/run_summary.json")["status"] == "completed"
    assert len(fake_api.requests_to(CHAT)) == 3


def test_a_corrupt_cache_file_is_one_warning_and_a_cold_cache(cli, fake_api, tmp_path):
    items = write_items(tmp_path / "items.csv")
    path = cli.runs_dir / ".cache" / "responses.sqlite"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    result = cli("--input", str(items))
    assert result.code == 0 and len(fake_api.requests_to(CHAT)) == 3
    warnings = [line for line in result.err.splitlines() if "response cache" in line]
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: response cache {path} was unreadable")
    assert len(list(path.parent.glob("responses.sqlite.corrupt-*"))) == 1
    assert len(cache_rows(cli)) == 3  # the new cache works: the next run is answered from it
    assert cli("--input", str(items)).code == 0 and len(fake_api.requests_to(CHAT)) == 3


WRITER = textwrap.dedent("""
    import sys
    from labnb.cache.store import ResponseCache
    from labnb.clients.base import ChatResponse
    from labnb.cost.usage import Usage

    cache = ResponseCache(sys.argv[1])
    for n in range(int(sys.argv[3])):
        response = ChatResponse(text='{"r": []}', data={"r": []}, usage=Usage(10, n))
        cache.put(f"{sys.argv[2]}-{n}", provider="openai", model="m", run_id=sys.argv[2], response=response,
                  cost_usd=0.001)
        assert cache.get(f"{sys.argv[2]}-{n}").response.usage == Usage(10, n)
    cache.close()
""")


def test_two_processes_writing_at_once_leave_a_valid_database(tmp_path):
    path = tmp_path / "runs" / ".cache" / "responses.sqlite"
    env = {"PYTHONPATH": str(ROOT / "src")}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, "300"], env=env,
                                stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    for writer in writers:
        assert writer.wait(timeout=120) == 0 and writer.stderr.read() == ""
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT run_id, count(*), sum(hits) FROM responses GROUP BY run_id").fetchall() == [
            ("a", 300, 300), ("b", 300, 300)]


def test_cache_stats_prune_and_clear(cli, fake_api, tmp_path, capsys):
    from analyze_runs import main

    items = write_items(tmp_path / "items.csv")
    paid = cli("--input", str(items)).json("outputs/token_usage.json")["cost_usd"]
    cli("--input", str(items))
    runs = str(cli.runs_dir)
    capsys.readouterr()
    assert main(["cache", "stats", "--runs-dir", runs, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["entries"], stats["hits"]) == (3, 3)
    assert round(stats["cost_usd"], 10) == round(paid, 10) == round(stats["saved_usd"], 10)
    assert [m["model"] for m in stats["models"]] == ["openai/gpt-4o-mini"]
    assert main(["cache", "prune", "--older-than", "30d", "--runs-dir", runs]) == 0
    assert capsys.readouterr().out.endswith(": 0 answers older than 30d removed\n")
    with sqlite3.connect(cli.runs_dir / ".cache" / "responses.sqlite") as db:
        db.execute("UPDATE responses SET created_at = created_at - 31 * 86400 WHERE rowid = 1")
    assert main(["cache", "prune", "--older-than", "30d", "--runs-dir", runs]) == 0
    assert capsys.readouterr().out.endswith(": 1 answers older than 30d removed\n")
    assert main(["cache", "clear", "--runs-dir", runs]) == 0
    assert capsys.readouterr().out.endswith(": 2 answers removed\n") and cache_rows(cli) == []
    assert main(["cache", "prune", "--runs-dir", runs]) == 2
    assert capsys.readouterr().err == "error: prune needs --older-than AGE (e.g. 30d); clear empties the whole cache\n"
    assert main(["cache", "prune", "--older-than", "soon", "--runs-dir", runs]) == 2
