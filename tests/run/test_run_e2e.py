"""The whole system through the real CLI and the real SDKs against the fake API on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from assign_cat.products import load_products
from conftest import ROOT, TEST_KEY

SAMPLE = ROOT / "data" / "sample_products.csv"
RUN_FILES = {
    "inputs/products.json", "inputs/taxonomy.xml", "inputs/prompt_templates.json",
    "config/models.yaml", "config/run_config.json", "config/system_info.json",
    "outputs/classifications.csv", "outputs/token_usage.json", "outputs/timing.json", "outputs/errors.log",
    "outputs/calls.jsonl", "outputs/calls_sent.jsonl", "metadata/run_summary.json", "metadata/.lock",
}
FIRST_COLUMNS = ["product_id", "title", "category", "subcategory", "raw_response", "model_used"]


def files_of(run_dir: Path) -> set[str]:
    return {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def gold_labels():
    return {p.title: (p.expected_category, p.expected_subcategory) for p in load_products(SAMPLE)}


def read_table(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)


def test_single_product_default_model_writes_a_complete_run_folder(cli, fake_api):
    result = cli("--single-product", "Echinacea Immune Support")
    assert result.code == 0, result.err
    run = result.run_dir
    assert run.name.startswith("assign-cat-") and len(run.name) == len("assign-cat-2026-11-28-093000")
    assert files_of(run) == RUN_FILES
    table = read_table(run)
    assert list(table.columns[:6]) == FIRST_COLUMNS
    assert table[["product_id", "title", "category", "subcategory", "model_used", "status"]].values.tolist() == [
        ["p0001", "Echinacea Immune Support", "immune-support", "daily-immune", "openai/gpt-4o-mini", "ok"]]
    codes = json.loads((run / "inputs" / "prompt_templates.json").read_text())["label_codes"]
    assert codes["8"] == ["immune-support", "daily-immune"]  # the 8th subcategory of the shipped taxonomy
    assert json.loads(table.loc[0, "raw_response"]) == {"n": 1, "k": 8}
    # Token sums equal what the API reported, and the cost is priced from them.
    served = fake_api.total_usage()
    usage = result.json("outputs/token_usage.json")
    assert (usage["total_prompt_tokens"], usage["total_completion_tokens"], usage["calls_made"]) == (
        served["input_tokens"], served["output_tokens"], 1)
    assert usage["cost_usd"] == pytest.approx(served["input_tokens"] * 0.15e-6 + served["output_tokens"] * 0.6e-6)
    summary = result.json("metadata/run_summary.json")
    assert summary["status"] == "completed" and summary["model_alias"] == "gpt4o_mini"
    assert summary["counts"] == {"ok": 1, "invalid": 0, "error": 0, "not_run": 0, "total": 1}
    for name, digest in summary["file_sha256"].items():
        assert sha(run / name) == digest
    assert set(summary["file_sha256"]) == {f for f in RUN_FILES if f.startswith(("inputs/", "config/"))}
    assert (run / "inputs" / "taxonomy.xml").read_bytes() == (ROOT / "config" / "taxonomy.xml").read_bytes()
    assert (run / "config" / "models.yaml").read_bytes() == cli.models.read_bytes()
    answer, line = result.out.strip().split("\n")
    # Names, as a reader wants them; the confidence is the fake's probability of the answer's number token.
    assert answer == "Echinacea Immune Support → Immune Support > Daily Immune (confidence 0.99)"
    assert line.startswith("completed: 1 classified, 0 failed") and str(run) in line
    # The request really was structured output with the taxonomy's ids as enums.
    body = fake_api.requests_to("/v1/chat/completions")[0]["json"]
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["temperature"] == 0 and body["model"] == "gpt-4o-mini"


def test_batched_anthropic_run_over_the_sample_catalog(cli, fake_api):
    fake_api.labels = gold_labels()
    titles = [p.title for p in load_products(SAMPLE)]
    wrong = next(t for t in titles if "Salmon" in t or "Fish" in t)  # answered wrong on purpose
    fake_api.labels[wrong] = ("vitamins", "multivitamins")
    result = cli("--model", "haiku", "--input", str(SAMPLE), "--batch-size", "5", "--concurrency", "4")
    assert result.code == 0, result.err
    table = read_table(result.run_dir)
    products = load_products(SAMPLE)
    assert table["product_id"].tolist() == [p.product_id for p in products]  # input order, one row each
    assert table["title"].tolist() == [p.title for p in products]  # commas, quotes, non-ASCII round-trip
    assert set(table["model_used"]) == {"anthropic/claude-haiku-4-5"} and set(table["status"]) == {"ok"}
    assert (table["correct"] == "False").sum() == 1 and table.loc[table["title"] == wrong, "correct"].item() == "False"
    calls = [json.loads(line) for line in (result.run_dir / "outputs/calls.jsonl").read_text().splitlines()]
    assert len(calls) == math.ceil(len(products) / 5) == len(fake_api.requests_to("/v1/messages"))
    served, usage = fake_api.total_usage(), result.json("outputs/token_usage.json")
    assert usage["total_prompt_tokens"] == served["input_tokens"]
    assert usage["total_completion_tokens"] == served["output_tokens"]
    assert usage["cached_prompt_tokens"] == served["cached_tokens"] > 0  # the system prefix is cached
    assert usage["cache_write_tokens"] == served["cache_write_tokens"] > 0
    uncached = served["input_tokens"] - served["cached_tokens"] - served["cache_write_tokens"]
    expected = (uncached * 1.0 + served["cached_tokens"] * 0.1 + served["cache_write_tokens"] * 1.25
                + served["output_tokens"] * 5.0) / 1e6
    assert usage["cost_usd"] == pytest.approx(expected)
    first = fake_api.requests_to("/v1/messages")[0]["json"]
    assert first["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert first["tool_choice"] == {"type": "tool", "name": "classify_products"}
    metrics = result.json("outputs/metrics.json")
    assert metrics["subcategory_accuracy"] == pytest.approx((len(products) - 1) / len(products), abs=1e-6)
    assert f"accuracy {(len(products) - 1) / len(products):.1%}" in result.out


def test_invalid_labels_are_kept_and_exit_1(cli, fake_api):
    from fakeapi import Fault

    fake_api.faults = [Fault("invalid_label")]  # answers k = 65 + 100, a number the taxonomy does not have
    result = cli("--single-product", "Zinc Lozenges")
    assert result.code == 1
    row = read_table(result.run_dir).iloc[0]
    assert (row["status"], row["error_type"]) == ("invalid", "invalid_label")
    assert (row["category"], row["subcategory"]) == ("", "") and json.loads(row["raw_response"])["k"] == 165
    assert result.json("metadata/run_summary.json")["status"] == "completed_with_errors"
    assert "invalid [invalid_label]" in (result.run_dir / "outputs/errors.log").read_text()


def test_a_product_missing_from_a_batch_answer_is_asked_for_alone(cli, fake_api):
    from fakeapi import Fault

    fake_api.faults = [Fault("missing_product")]
    result = cli("--input", str(SAMPLE), "--limit", "4", "--batch-size", "4", "--concurrency", "1")
    assert result.code == 0, result.err
    calls = [json.loads(line) for line in (result.run_dir / "outputs/calls.jsonl").read_text().splitlines()]
    assert [(c["attempt"], len(c["item_ids"])) for c in calls] == [("first", 4), ("single-retry", 1)]
    assert calls[1]["item_ids"] == [load_products(SAMPLE)[3].product_id]
    assert set(read_table(result.run_dir)["status"]) == {"ok"}


def test_authentication_failure_aborts_after_one_call(cli, fake_api, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-123456789")
    result = cli("--input", str(SAMPLE), "--limit", "20", "--concurrency", "1")
    assert result.code == 3
    assert result.err.splitlines()[-1] == "error: openai rejected the API key (401): check OPENAI_API_KEY"
    assert result.out.startswith("failed: 0 classified, 0 failed | 20 not run")
    assert len(fake_api.requests_to("/v1/chat/completions")) == 1
    summary = result.json("metadata/run_summary.json")
    assert summary["status"] == "failed" and "rejected the API key" in summary["failure"]
    assert read_table(result.run_dir)["status"].value_counts().to_dict() == {"not_run": 20}
    calls = (result.run_dir / "outputs/calls.jsonl").read_text().splitlines()
    assert len(calls) == 1 and json.loads(calls[0])["error_type"] == "AuthenticationFailed"


def test_missing_key_is_reported_before_any_run_folder(cli, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    result = cli("--model", "sonnet", "--single-product", "Ashwagandha Capsules")
    assert result.code == 2 and result.run_dirs == []
    assert result.err == "error: model 'sonnet' needs an API key: set the environment variable ANTHROPIC_API_KEY\n"


def test_per_model_base_url_and_api_key_env(cli, fake_api, tmp_path, monkeypatch):
    from conftest import write_models_yaml

    monkeypatch.delenv("OPENAI_BASE_URL")
    monkeypatch.setenv("LOCAL_LLM_KEY", TEST_KEY)
    models = write_models_yaml(tmp_path / "m.yaml", gpt4o={"base_url": f"{fake_api.url}/v1",
                                                             "api_key_env": "LOCAL_LLM_KEY", "model": "llama3.1"})
    result = cli("--model", "gpt4o", "--single-product", "Creatine Monohydrate", models_config=models)
    assert result.code == 0, result.err
    assert read_table(result.run_dir).loc[0, "model_used"] == "openai/llama3.1"
    assert "prompt_cache_key" not in fake_api.requests_to("/v1/chat/completions")[0]["json"]


def test_no_secret_reaches_the_run_folder_or_console(cli, fake_api):
    from fakeapi import Fault

    fake_api.faults = [Fault("status", status=400, echo_key=True)]
    result = cli("--input", str(SAMPLE), "--limit", "2", "--concurrency", "1")
    assert result.code == 1
    assert TEST_KEY not in result.out + result.err
    for path in result.run_dir.rglob("*"):
        if path.is_file():
            assert TEST_KEY not in path.read_text(errors="replace"), path
    assert "[REDACTED]" in (result.run_dir / "outputs/errors.log").read_text()
