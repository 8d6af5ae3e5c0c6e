"""--batch-api through the real CLI and SDKs against the fake API's batch endpoints (OpenAI and Anthropic)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from assign_cat.products import load_products
from conftest import ROOT

SAMPLE = ROOT / "data" / "sample_products.csv"
CHAT_PATH = {"gpt4o_mini": "/v1/chat/completions", "haiku": "/v1/messages"}
PROVIDER = {"gpt4o_mini": "openai", "haiku": "anthropic"}
BATCHES_PATH = {"gpt4o_mini": "/v1/batches", "haiku": "/v1/messages/batches"}
# USD per 1M tokens: uncached input, cached input, cache write, output (config/models.yaml)
RATES = {"gpt4o_mini": (0.15, 0.075, 0.0, 0.60), "haiku": (1.0, 0.10, 1.25, 5.0)}
COLLECT = "python src/run_assign_cat.py --resume"
both = pytest.mark.parametrize("model", ["gpt4o_mini", "haiku"])


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch):
    monkeypatch.setenv("LABNB_BATCH_POLL_SECONDS", "0.02")


def products(limit: int = 10):
    return load_products(SAMPLE, limit)


def gold():
    return {p.title: (p.expected_category, p.expected_subcategory) for p in load_products(SAMPLE)}


def submit(cli, model: str, *extra: str, limit: int = 10):
    return cli("--model", model, "--input", str(SAMPLE), "--limit", str(limit), "--batch-size", "2", "--batch-api",
               *extra)


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def table(run: Path) -> pd.DataFrame:
    return pd.read_csv(run / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)


def snapshot(run: Path) -> dict[str, bytes]:
    return {p.relative_to(run).as_posix(): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def summary(run: Path) -> dict:
    return json.loads((run / "metadata" / "run_summary.json").read_text())


def manifest(run: Path) -> dict:
    return json.loads((run / "outputs" / "batch" / "batches.json").read_text())


def cost(model: str, usage: dict, factor: float) -> float:
    uncached_rate, cached_rate, write_rate, out_rate = RATES[model]
    uncached = usage["input_tokens"] - usage["cached_tokens"] - usage["cache_write_tokens"]
    return factor * (uncached * uncached_rate + usage["cached_tokens"] * cached_rate
                     + usage["cache_write_tokens"] * write_rate + usage["output_tokens"] * out_rate) / 1e6


def served(fake_api, *, batch: bool) -> dict:
    keys = ("input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens")
    entries = [e for e in fake_api.usage_log if e["batch"] is batch]
    return {**{k: sum(e[k] for e in entries) for k in keys}, "calls": len(entries)}


def provider_class(model: str):
    if model == "haiku":
        from labnb.batchapi.anthropic_batch import AnthropicBatches

        return AnthropicBatches
    from labnb.batchapi.openai_batch import OpenAIBatches

    return OpenAIBatches


def sdk_batches(model: str):
    if model == "haiku":
        import anthropic.resources.messages.batches as module
    else:
        import openai.resources.batches as module
    return module.Batches


@both
def test_submit_writes_and_sends_exactly_the_synchronous_requests_split_by_the_limits(cli, fake_api, monkeypatch,
                                                                                   model):
    sync = cli("--model", model, "--input", str(SAMPLE), "--limit", "10", "--batch-size", "2", "--concurrency", "1")
    assert sync.code == 0, sync.err
    bodies = [r["json"] for r in fake_api.requests_to(CHAT_PATH[model])]
    fake_api.requests.clear()
    monkeypatch.setattr(provider_class(model), "max_requests", 3)
    result = submit(cli, model)
    assert result.code == 0, result.err
    run = result.run_dir
    assert result.out == f"submitted: 2 batches (5 requests) to {PROVIDER[model]} | collect with: {COLLECT} {run}\n"
    folder = run / "outputs" / "batch"
    assert sorted(p.name for p in folder.iterdir()) == [
        "batches.json", "items-001.json", "items-002.json", "requests-001.jsonl", "requests-002.jsonl"]
    parts = [jsonl(folder / "requests-001.jsonl"), jsonl(folder / "requests-002.jsonl")]
    assert [len(p) for p in parts] == [3, 2]
    lines = parts[0] + parts[1]
    assert [line["custom_id"] for line in lines] == [f"g00000{n}" for n in range(1, 6)]
    assert [line.get("body") or line.get("params") for line in lines] == bodies  # same grouping, prompts, schema
    ids = [p.product_id for p in products()]
    items = {k: v for n in (1, 2) for k, v in json.loads((folder / f"items-00{n}.json").read_text()).items()}
    assert items == {f"g00000{n + 1}": ids[2 * n:2 * n + 2] for n in range(5)}
    if model == "gpt4o_mini":
        assert all(line["method"] == "POST" and line["url"] == "/v1/chat/completions" for line in lines)
        uploads = list(fake_api.batches.files.values())
        assert [(f["purpose"], f["filename"]) for f in uploads] == [("batch", "requests-001.jsonl"),
                                                                    ("batch", "requests-002.jsonl")]
        assert [fake_api.batches.contents[f["id"]] for f in uploads] == [
            (folder / "requests-001.jsonl").read_bytes(), (folder / "requests-002.jsonl").read_bytes()]
        created = [b for b in fake_api.batches.batches.values()]
        assert [(b["endpoint"], b["completion_window"], b["metadata"]) for b in created] == [
            ("/v1/chat/completions", "24h", {"run_id": run.name, "part": "1"}),
            ("/v1/chat/completions", "24h", {"run_id": run.name, "part": "2"})]
    else:
        posted = [r["json"]["requests"] for r in fake_api.requests_to("/v1/messages/batches") if r["method"] == "POST"]
        assert posted == parts
    assert fake_api.requests_to(CHAT_PATH[model]) == []  # nothing was answered synchronously
    recorded = manifest(run)
    assert [(p["index"], p["state"], p["count"]) for p in recorded["parts"]] == [(1, "submitted", 3),
                                                                                 (2, "submitted", 2)]
    assert [p["batch_id"] for p in recorded["parts"]] == list(fake_api.batches.batches)
    state = summary(run)
    assert (state["status"], state["batch_api"]) == ("submitted", True)
    assert [(b["batch_id"], b["state"]) for b in state["batch"]["batches"]] == [
        (p["batch_id"], "submitted") for p in recorded["parts"]]


@both
def test_collect_writes_the_synchronous_outputs_at_batch_prices_and_collecting_twice_changes_nothing(
        cli, fake_api, model):
    fake_api.labels = gold()
    fake_api.batch_polls_to_finish = 3
    run = submit(cli, model).run_dir
    assert fake_api.usage_log == []  # the provider has not answered anything yet
    result = cli("--resume", str(run))
    assert result.code == 0, result.err
    assert result.out.startswith("completed: 10 classified, 0 failed | accuracy 100.0% | ")
    rows = table(run)
    expected = [[p.product_id, p.expected_category, p.expected_subcategory, "ok", "", f"c00000{n // 2 + 1}"]
                for n, p in enumerate(products())]
    columns = ["product_id", "category", "subcategory", "status", "error_type", "call_id"]
    assert rows[columns].values.tolist() == expected
    polls = fake_api.requests_to(f"{BATCHES_PATH[model]}/{manifest(run)['parts'][0]['batch_id']}")
    assert len(polls) >= 3  # the batch ended on the third retrieve
    served_batch = served(fake_api, batch=True)
    assert served_batch["calls"] == 5 and served(fake_api, batch=False)["calls"] == 0
    usage = json.loads((run / "outputs" / "token_usage.json").read_text())
    assert (usage["total_prompt_tokens"], usage["total_completion_tokens"], usage["cached_prompt_tokens"],
            usage["cache_write_tokens"]) == (served_batch["input_tokens"], served_batch["output_tokens"],
                                             served_batch["cached_tokens"], served_batch["cache_write_tokens"])
    assert (usage["calls_made"], usage["calls_by_attempt"], usage["batch_pricing"]) == (5, {"batch": 5}, True)
    assert usage["cost_usd"] == pytest.approx(cost(model, served_batch, 0.5))
    assert usage["cost_usd"] == pytest.approx(cost(model, served_batch, 1.0) / 2)
    calls = jsonl(run / "outputs" / "calls.jsonl")
    assert [(c["attempt"], c["request"]["custom_id"], c["item_ids"]) for c in calls] == [
        ("batch", f"g00000{n + 1}", [p.product_id for p in products()[2 * n:2 * n + 2]]) for n in range(5)]
    raw = run / "outputs" / "batch" / "results-001.jsonl"  # kept exactly as downloaded
    assert sorted(line["custom_id"] for line in jsonl(raw)) == [f"g00000{n}" for n in range(1, 6)]
    if model == "gpt4o_mini":
        output_id = next(iter(fake_api.batches.batches.values()))["output_file_id"]
        assert raw.read_bytes() == fake_api.batches.contents[output_id]
    state = summary(run)
    assert state["status"] == "completed"
    assert state["counts"] == {"ok": 10, "invalid": 0, "error": 0, "not_run": 0, "total": 10}
    assert [p["state"] for p in manifest(run)["parts"]] == ["settled"]
    assert {"outputs/metrics.json", "outputs/timing.json", "outputs/errors.log"} <= set(snapshot(run))
    before, requests = snapshot(run), len(fake_api.requests)
    again = cli("--resume", str(run))
    assert (again.code, again.out) == (0, result.out)
    assert snapshot(run) == before and len(fake_api.requests) == requests


def test_submit_with_wait_collects_in_one_command(cli, fake_api):
    fake_api.labels = gold()
    result = submit(cli, "haiku", "--wait")
    assert result.code == 0, result.err
    run = result.run_dir
    assert f"submitted: 1 batch (5 requests) to anthropic | collect with: {COLLECT} {run}" in result.err
    assert result.out.startswith("completed: 10 classified, 0 failed | accuracy 100.0% | ")
    assert [s["mode"] for s in summary(run)["sessions"]] == ["batch-submit", "batch-collect"]
    assert set(table(run)["status"]) == {"ok"}


def test_a_crash_between_upload_and_batch_creation_never_uploads_or_creates_twice(cli, fake_api, monkeypatch):
    fake_api.labels = gold()
    batches = sdk_batches("gpt4o_mini")
    original, crashed = batches.create, []

    def crash_once(self, **kwargs):
        if not crashed:
            crashed.append(kwargs)
            raise KeyboardInterrupt  # Ctrl-C after the upload, before the batch exists
        return original(self, **kwargs)

    monkeypatch.setattr(batches, "create", crash_once)
    first = submit(cli, "gpt4o_mini")
    run = first.run_dir
    assert first.code == 130
    assert first.out == f"interrupted: 0 of 1 batch submitted | finish submitting with: {COLLECT} {run}\n"
    [part] = manifest(run)["parts"]
    assert (part["state"], part["file_id"], part["batch_id"]) == ("creating", "file-fake000001", "")
    assert (len(fake_api.batches.files), len(fake_api.batches.batches)) == (1, 0)
    assert summary(run)["status"] == "submitted"
    result = cli("--resume", str(run))
    assert result.code == 0, result.err
    assert [f["purpose"] for f in fake_api.batches.files.values()].count("batch") == 1  # no second upload
    assert [b["input_file_id"] for b in fake_api.batches.batches.values()] == ["file-fake000001"]
    assert len(fake_api.requests_to("/v1/batches")) == 2  # the list that found nothing, then the one create
    assert set(table(run)["status"]) == {"ok"}


@both
def test_a_batch_created_but_not_recorded_is_found_in_the_providers_list(cli, fake_api, monkeypatch, model):
    fake_api.labels = gold()
    batches = sdk_batches(model)
    original, lost = batches.create, []

    def lose_answer_once(self, **kwargs):
        created = original(self, **kwargs)
        if not lost:
            lost.append(created.id)
            raise KeyboardInterrupt  # the batch exists at the provider; the run folder does not know its id
        return created

    monkeypatch.setattr(batches, "create", lose_answer_once)
    monkeypatch.setattr(provider_class(model), "max_requests", 3)
    first = submit(cli, model)
    run = first.run_dir
    assert first.code == 130 and first.out.startswith("interrupted: 0 of 2 batches submitted")
    result = cli("--resume", str(run))
    assert result.code == 0, result.err
    assert len(fake_api.batches.batches) == 2  # the lost one was adopted, not created again
    assert [p["batch_id"] for p in manifest(run)["parts"]] == [lost[0], list(fake_api.batches.batches)[1]]
    assert served(fake_api, batch=True)["calls"] == 5
    assert set(table(run)["status"]) == {"ok"}


def test_mixed_results_become_error_rows_and_retry_failed_fixes_them_synchronously(cli, fake_api):
    fake_api.labels = gold()
    fake_api.batch_item_faults = {"g000002": "errored", "g000003": "expired", "g000004": "canceled"}
    run = submit(cli, "gpt4o_mini", "--wait").run_dir
    rows = table(run)
    assert rows["error_type"].tolist() == ["", "", "batch_errored", "batch_errored", "batch_expired", "batch_expired",
                                           "batch_cancelled", "batch_cancelled", "", ""]
    assert rows["status"].tolist() == ["ok", "ok"] + ["error"] * 6 + ["ok", "ok"]
    assert rows.loc[2, "error"].startswith("HTTP 500: ")
    assert rows.loc[4, "error"] == "This request could not be executed before the completion window expired."
    assert summary(run)["status"] == "completed_with_errors"
    log = (run / "outputs" / "errors.log").read_text()
    assert "product sp-005 error [batch_expired]" in log and "product sp-007 error [batch_cancelled]" in log
    retry = cli("--retry-failed", str(run))
    assert retry.code == 0, retry.err
    assert set(table(run)["status"]) == {"ok"}
    assert len(fake_api.requests_to("/v1/chat/completions")) == 3  # one synchronous call per failed group
    usage = json.loads((run / "outputs" / "token_usage.json").read_text())
    assert usage["calls_by_attempt"] == {"batch": 5, "first": 3}
    batch_usage, sync_usage = served(fake_api, batch=True), served(fake_api, batch=False)
    assert usage["total_prompt_tokens"] == batch_usage["input_tokens"] + sync_usage["input_tokens"]
    assert usage["cost_by_rate"]["batch"] == pytest.approx(cost("gpt4o_mini", batch_usage, 0.5))
    assert usage["cost_by_rate"]["standard"] == pytest.approx(cost("gpt4o_mini", sync_usage, 1.0))
    assert usage["cost_usd"] == pytest.approx(sum(usage["cost_by_rate"].values()))


def test_retry_failed_with_batch_api_submits_only_the_failed_products_again(cli, fake_api):
    fake_api.labels = gold()
    fake_api.batch_item_faults = {"g000002": "errored", "g000005": "expired"}
    run = submit(cli, "haiku", "--wait").run_dir
    assert table(run)["status"].tolist().count("error") == 4
    fake_api.batch_item_faults = {}
    retry = cli("--retry-failed", str(run), "--batch-api", "--wait")
    assert retry.code == 0, retry.err
    parts = manifest(run)["parts"]
    assert [(p["index"], p["submission"], p["count"], p["state"]) for p in parts] == [(1, 1, 5, "settled"),
                                                                                      (2, 2, 2, "settled")]
    items = json.loads((run / "outputs" / "batch" / "items-002.json").read_text())
    assert items == {"g000006": ["sp-003", "sp-004"], "g000007": ["sp-009", "sp-010"]}
    rows = table(run)
    assert set(rows["status"]) == {"ok"} and rows.loc[2, "call_id"] == "c000006"
    assert fake_api.requests_to("/v1/messages") == []
    usage = json.loads((run / "outputs" / "token_usage.json").read_text())
    assert usage["calls_by_attempt"] == {"batch": 7}
    assert usage["cost_usd"] == pytest.approx(cost("haiku", served(fake_api, batch=True), 0.5))


@both
def test_an_expired_batch_marks_every_product_batch_expired(cli, fake_api, model):
    fake_api.batch_expire = True
    result = submit(cli, model, "--wait", limit=4)
    assert result.code == 1
    assert result.out.startswith("completed_with_errors: 0 classified, 4 failed")
    rows = table(result.run_dir)
    assert rows[["status", "error_type"]].values.tolist() == [["error", "batch_expired"]] * 4
    usage = json.loads((result.run_dir / "outputs" / "token_usage.json").read_text())
    assert (usage["calls_made"], usage["calls_failed"], usage["total_tokens"], usage["cost_usd"]) == (2, 2, 0, 0.0)


def test_dry_run_with_batch_api_says_batch_pricing_applies(cli, fake_api):
    plain = cli("--input", str(SAMPLE), "--limit", "5", "--dry-run")
    batch = cli("--input", str(SAMPLE), "--limit", "5", "--dry-run", "--batch-api")
    assert batch.code == plain.code == 0
    head = batch.out.splitlines()[0]
    assert head == plain.out.splitlines()[0] + "; --batch-api: batch pricing applies, see the 'batch API' column"
    assert batch.out.splitlines()[1:] == plain.out.splitlines()[1:] and batch.run_dirs == []
    assert fake_api.requests == []


def test_the_local_model_has_no_batch_api(cli):
    result = cli("--model", "local", "--input", str(SAMPLE), "--limit", "2", "--batch-api")
    assert result.code == 2 and result.run_dirs == []
    assert result.err == ("error: model 'local': provider 'local' has no batch API; use an openai or anthropic "
                          "model with --batch-api\n")
