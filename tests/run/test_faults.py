"""Every fault the API can throw ends as a known outcome: a retried success or a row with an error_type."""

from __future__ import annotations

import json
import socket

import pandas as pd
import pytest
from fakeapi import Fault

from conftest import write_models_yaml
from labnb.store.results import ERROR_TYPES


def table(result):
    return pd.read_csv(result.run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)


def calls(result):
    return [json.loads(line) for line in (result.run_dir / "outputs" / "calls.jsonl").read_text().splitlines()]


RETRIED = [
    ("429 with retry-after", [Fault("status", status=429, retry_after=0.1)], "openai"),
    ("429 without retry-after", [Fault("status", status=429)], "openai"),
    ("500", [Fault("status", status=500)], "openai"),
    ("503", [Fault("status", status=503)], "anthropic"),
    ("529 overloaded", [Fault("status", status=529, error_type="overloaded_error")], "anthropic"),
    ("two 429s, then success", [Fault("status", status=429, retry_after_ms=50)] * 2, "anthropic"),
]


@pytest.mark.parametrize("name, faults, provider", RETRIED, ids=[r[0] for r in RETRIED])
def test_transient_faults_are_retried_by_the_sdk_and_counted(cli, fake_api, name, faults, provider):
    fake_api.faults = list(faults)
    model = "gpt4o_mini" if provider == "openai" else "haiku"
    result = cli("--model", model, "--single-product", "Vitamin D3 5000 IU")
    assert result.code == 0, result.err
    assert table(result)["status"].tolist() == ["ok"]
    assert [c["retries"] for c in calls(result)] == [len(faults)]
    assert result.json("outputs/token_usage.json")["retries"] == len(faults)


FAILED = [
    ("429 exhausted", [Fault("status", status=429)] * 3, {}, "error", "rate_limit"),
    ("500 exhausted", [Fault("status", status=500)] * 3, {}, "error", "server_error"),
    ("hang past timeout", [Fault("hang", seconds=3)], {"timeout": 0.5, "max_retries": 0}, "error", "timeout"),
    ("200 html body", [Fault("not_json", variant="html")], {}, "error", "bad_response"),
    ("200 broken json", [Fault("not_json", variant="json")], {}, "error", "bad_response"),
    ("refusal", [Fault("refusal")], {}, "error", "refusal"),
    ("truncated", [Fault("truncated")], {}, "error", "truncated"),
    ("invalid label", [Fault("invalid_label", variant="unknown")], {}, "invalid", "invalid_label"),
    ("schema violated twice", [Fault("schema_violation", variant="missing_r")] * 2, {}, "invalid", "bad_response"),
]


@pytest.mark.parametrize("name, faults, settings, status, error_type", FAILED, ids=[f[0] for f in FAILED])
def test_faults_that_do_not_recover_become_rows_with_an_error_type(cli, fake_api, tmp_path, name, faults,
                                                                   settings, status, error_type):
    fake_api.faults = list(faults)
    models = write_models_yaml(tmp_path / "m.yaml", gpt4o_mini=settings)
    result = cli("--input", "data/sample_products.csv", "--limit", "2", "--concurrency", "1", models_config=models)
    assert result.code == 1, result.err
    rows = table(result)
    assert rows[["status", "error_type"]].values.tolist()[0] == [status, error_type]
    assert rows["status"].tolist()[1] == "ok"  # the next product is unaffected: one failure never stops a run
    assert result.json("metadata/run_summary.json")["status"] == "completed_with_errors"
    assert error_type in (result.run_dir / "outputs" / "errors.log").read_text()
    assert error_type in ERROR_TYPES  # the documented list


def test_a_schema_violation_gets_one_repair_that_says_what_was_wrong(cli, fake_api):
    fake_api.faults = [Fault("schema_violation", variant="wrong_types")]
    result = cli("--single-product", "Magnesium Glycinate 400 mg")
    assert result.code == 0, result.err
    assert [c["attempt"] for c in calls(result)] == ["first", "repair"]
    repair = fake_api.requests_to("/v1/chat/completions")[1]["json"]["messages"][1]["content"]
    assert "Your previous answer was not valid:" in repair
    assert "entry n=1 needs an integer subcategory number k, got [5]" in repair


def test_connection_refused_is_an_error_row(cli, tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    models = write_models_yaml(tmp_path / "m.yaml", gpt4o_mini={"base_url": f"http://127.0.0.1:{port}/v1",
                                                                "max_retries": 1})
    result = cli("--single-product", "Creatine", models_config=models)
    assert result.code == 1
    assert table(result)[["status", "error_type"]].values.tolist() == [["error", "connection"]]


def test_exhausted_quota_stops_the_run_with_what_to_fix(cli, fake_api):
    # OpenAI answers 429 insufficient_quota; retrying cannot help, so the first answer stops the run.
    fake_api.faults = [Fault("status", status=429, error_type="insufficient_quota",
                             error_code="insufficient_quota")] * 3
    result = cli("--input", "data/sample_products.csv", "--limit", "10", "--concurrency", "1")
    assert result.code == 3
    assert "no quota left" in result.err and "add credit or use another model" in result.err
    assert len(fake_api.requests_to("/v1/chat/completions")) == 1  # not retried, nothing else started


def test_a_fault_mix_run_accounts_for_every_product(cli, fake_api):
    def faults(index, body):
        if index % 5 == 4:
            return Fault("status", status=429, retry_after=0)
        if index % 7 == 6:
            return Fault("status", status=500)
        if index % 11 == 10:
            return Fault("invalid_label", variant="mismatch")
        return None

    fake_api.fault_fn = faults
    result = cli("--input", "data/sample_products.csv", "--batch-size", "3", "--concurrency", "6")
    rows = table(result)
    expected_ids = pd.read_csv("data/sample_products.csv", dtype=str)["product_id"].tolist()
    assert rows["product_id"].tolist() == expected_ids  # each product exactly once, in input order
    assert (rows["status"] == "invalid").sum() >= 1 and (rows["status"] == "ok").sum() >= 60
    failed = rows[rows["status"] == "error"]
    assert set(failed["error_type"]) <= {"rate_limit", "server_error"}  # a call whose retries all hit faults
    served_faults = sum(1 for i in range(fake_api.model_calls) if i % 5 == 4 or i % 7 == 6)
    exhausted = [c for c in calls(result) if c["status"] == "error"]
    # Every fault served was either retried by the SDK (and counted) or was the last attempt of a failed call.
    assert result.json("outputs/token_usage.json")["retries"] + len(exhausted) == served_faults
    served = fake_api.total_usage()
    usage = result.json("outputs/token_usage.json")
    assert (usage["total_prompt_tokens"], usage["total_completion_tokens"]) == (
        served["input_tokens"], served["output_tokens"])
    assert result.code == 1
