"""Batch-API pieces: splitting into parts, settling answers without follow-up calls, crashes while collecting."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assign_cat.products import Product, load_products
from assign_cat.task import AssignCat
from labnb.batchapi import BatchItem, BatchJob, BatchPart, BatchProvider, ItemResult
from labnb.clients import ChatResponse
from labnb.clients.requests import RequestBuilder
from labnb.config import ModelEntry, Pricing
from labnb.cost.usage import Usage
from labnb.errors import InputError
from labnb.run.batch_results import settle_group

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample_products.csv"
ENTRY = ModelEntry(alias="m", provider="openai", model="gpt-4o-mini", pricing=Pricing(input=1.0, output=1.0))
PRODUCTS = [Product("a", "Echinacea Tincture"), Product("b", "Whey Isolate"), Product("c", "Melatonin 3 mg")]
PART = BatchPart(1, "requests-001.jsonl", "items-001.json", 1, 10, batch_id="batch_1",
                 created_at="2026-11-28T09:00:00Z", ended_at="2026-11-28T10:30:00Z")


class OfflineProvider(BatchProvider):
    """Only what splitting needs: the line format and the limits."""

    name, max_requests, max_bytes = "offline", 3, 160

    def line(self, custom_id, body):
        return {"custom_id": custom_id, "body": body}

    create = find = refresh = download = item = sdk = None  # never called here


def test_parts_respect_the_request_and_byte_limits_and_commit_at_once(tmp_path):
    job = BatchJob(tmp_path, OfflineProvider(ENTRY), "run-1")
    items = [BatchItem(f"g{n:06d}", {"x": "y" * size}, [f"p{n}"]) for n, size in enumerate([10, 10, 10, 10, 80, 10], 1)]
    parts = job.add(items)
    # A line is 40 bytes + the body's text: the 4th line breaks the count limit, the 5th and 6th the byte limit.
    assert [(p.index, p.count, p.size_bytes, p.requests_file) for p in parts] == [
        (1, 3, 150, "requests-001.jsonl"), (2, 1, 50, "requests-002.jsonl"), (3, 1, 120, "requests-003.jsonl"),
        (4, 1, 50, "requests-004.jsonl")]
    for part in parts:
        data = (tmp_path / part.requests_file).read_bytes()
        assert part.size_bytes == len(data) and data.count(b"\n") == part.count
    assert job.items(parts[0]) == {"g000001": ["p1"], "g000002": ["p2"], "g000003": ["p3"]}
    reopened = BatchJob(tmp_path, OfflineProvider(ENTRY), "run-1")
    assert [p.to_dict() for p in reopened.parts] == [p.to_dict() for p in parts] and reopened.requests == 6
    assert [(p.index, p.submission) for p in reopened.add(items[:1], submission=2)] == [(5, 2)]
    with pytest.raises(InputError, match="request g000009 alone is 170 bytes, over the offline batch limit of 160"):
        job.add([BatchItem("g000009", {"x": "y" * 130}, ["p9"])])


@pytest.fixture(scope="module")
def builder():
    return RequestBuilder(ENTRY, AssignCat(ROOT / "config" / "taxonomy.xml"))


def answer(data, finish="stop"):
    return ChatResponse(text=json.dumps(data), data=data if finish == "stop" else None, usage=Usage(100, 20),
                        finish=finish, raw={"body": "{}"})


def settle(builder, products, item):
    return settle_group(products, item, "c000007", PART, builder, builder.task)


def test_a_settled_answer_has_one_batch_call_and_every_row_points_at_it(builder):
    daily_immune = next(k for k, pair in builder.task.taxonomy.codes.items() if pair[1] == "daily-immune")
    data = {"r": [{"n": 1, "k": daily_immune}, {"n": 2, "k": 999}]}
    outcome = settle(builder, PRODUCTS, ItemResult("g000003", answer(data)))
    [call] = outcome.calls
    assert (call.call_id, call.attempt, call.status, call.usage, call.latency_ms) == (
        "c000007", "batch", "ok", Usage(100, 20), 5_400_000.0)
    assert call.request["custom_id"] == "g000003" and call.request["batch_id"] == "batch_1"
    assert call.request["user"] == builder.build(PRODUCTS).user
    got = [(r.item_id, r.status, r.error_type, r.call_id) for r in outcome.results]
    assert got == [("a", "ok", "", "c000007"), ("b", "invalid", "invalid_label", "c000007"),
                   ("c", "error", "missing_answer", "c000007")]  # no single retry in a batch


def test_no_follow_up_calls_schema_violations_stay_invalid_and_truncation_is_an_error(builder):
    bad = settle(builder, PRODUCTS[:2], ItemResult("g000001", answer({"results": []})))
    assert len(bad.calls) == 1 and bad.calls[0].status == "ok"
    assert [(r.status, r.error_type) for r in bad.results] == [("invalid", "bad_response")] * 2
    assert bad.results[0].error.startswith("answer violates the schema: the answer must be a JSON object")
    cut = settle(builder, PRODUCTS[:2], ItemResult("g000002", answer({}, finish="length")))
    assert (cut.calls[0].status, cut.calls[0].error_type) == ("error", "truncated")
    assert [(r.status, r.error_type) for r in cut.results] == [("error", "truncated")] * 2
    failed = settle(builder, PRODUCTS[:1], ItemResult("g000004", error_type="batch_expired", error="too late"))
    assert (failed.calls[0].error_type, failed.calls[0].usage) == ("batch_expired", Usage())
    assert [(r.status, r.error_type, r.error) for r in failed.results] == [("error", "batch_expired", "too late")]


def test_ctrl_c_while_polling_leaves_the_run_submitted_and_resume_finishes_it(cli, fake_api, monkeypatch):
    import labnb.batchapi.jobs as jobs

    monkeypatch.setenv("LABNB_BATCH_POLL_SECONDS", "0.01")
    run = cli("--input", str(SAMPLE), "--limit", "3", "--batch-api").run_dir
    pause = jobs.sleep

    def ctrl_c(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(jobs, "sleep", ctrl_c)
    stopped = cli("--resume", str(run))
    assert stopped.code == 130
    assert stopped.out == (f"interrupted: 0 of 1 batch ended, the provider keeps working | collect with: "
                           f"python src/run_assign_cat.py --resume {run}\n")
    summary = json.loads((run / "metadata" / "run_summary.json").read_text())
    assert summary["status"] == "submitted" and not (run / "outputs" / "classifications.csv").exists()
    monkeypatch.setattr(jobs, "sleep", pause)
    done = cli("--resume", str(run))
    assert done.code == 0 and done.out.startswith("completed: 3 classified, 0 failed")


def test_settling_again_after_a_crash_writes_no_call_or_row_twice(cli, fake_api, monkeypatch):
    monkeypatch.setenv("LABNB_BATCH_POLL_SECONDS", "0.01")
    run = cli("--input", str(SAMPLE), "--limit", "6", "--batch-size", "2", "--batch-api", "--wait").run_dir
    outputs = run / "outputs"
    calls, table = (outputs / "calls.jsonl").read_bytes(), (outputs / "classifications.csv").read_text()
    # As if the process died after writing the calls and the first rows, before the part was marked settled.
    manifest = json.loads((outputs / "batch" / "batches.json").read_text())
    manifest["parts"][0]["state"] = "downloaded"
    (outputs / "batch" / "batches.json").write_text(json.dumps(manifest))
    (outputs / "classifications.csv").write_text("".join(table.splitlines(keepends=True)[:3]))
    summary = json.loads((run / "metadata" / "run_summary.json").read_text())
    (run / "metadata" / "run_summary.json").write_text(json.dumps({**summary, "status": "submitted"}))
    requests = len(fake_api.requests)
    again = cli("--resume", str(run))
    assert again.code == 0, again.err
    assert (outputs / "calls.jsonl").read_bytes() == calls
    assert (outputs / "classifications.csv").read_text() == table
    assert len(fake_api.requests) == requests  # results are settled from the files kept on disk
    assert [p.product_id for p in load_products(SAMPLE, 6)] == [line.split(",")[0] for line in table.splitlines()[1:]]


def test_retry_failed_waits_for_collection_and_max_cost_refuses_a_batch_that_does_not_fit(cli, fake_api):
    run = cli("--input", str(SAMPLE), "--limit", "3", "--batch-api").run_dir
    retry = cli("--retry-failed", str(run))
    assert retry.code == 2
    assert retry.err == f"error: {run}: its batches are not collected yet; collect them first with --resume\n"
    costly = cli("--input", str(SAMPLE), "--limit", "3", "--batch-api", "--max-cost", "0.0001")
    assert costly.code == 2 and costly.run_dirs == [run] and len(fake_api.batches.batches) == 1
    assert re.fullmatch(r"error: --max-cost 0\.0001: the batches would cost about \$0\.000[1-9]\d* at the batch rate "
                        r"\(a rough estimate; --dry-run counts exactly\); nothing was submitted\n", costly.err)
