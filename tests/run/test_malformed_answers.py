"""Issue 19 §7: any 200 body is that item's bad_response row, its call recorded; odd usage is unknown, never a cost."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fakeapi import Fault
from fakeapi_malformed import MALFORMED_VARIANTS, USAGE_VARIANTS

from conftest import ROOT

SAMPLE = ROOT / "data" / "sample_products.csv"
IDS = pd.read_csv(SAMPLE, dtype=str)["product_id"].tolist()
PRICES = {  # USD per 1M tokens (config/models.yaml): input, cached input, cache write, output
    "gpt4o_mini": (0.15, 0.075, 0.0, 0.60),
    "haiku": (1.0, 0.10, 1.25, 5.0),
}
PATHS = {"gpt4o_mini": "/v1/chat/completions", "haiku": "/v1/messages"}


def strict_lines(path: Path) -> list[dict]:
    """Every line of a JSONL file, parsed strictly: NaN and Infinity are not JSON."""
    def refuse(constant: str) -> None:
        raise AssertionError(f"{path} holds {constant}")

    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


def dollars(entry: dict, model: str) -> float:
    """The price of one served answer, from the fake's own usage log, by hand."""
    inp, cached, write, out = PRICES[model]
    fresh = entry["input_tokens"] - entry["cached_tokens"] - entry["cache_write_tokens"]
    return (fresh * inp + entry["cached_tokens"] * cached + entry["cache_write_tokens"] * write
            + entry["output_tokens"] * out) / 1e6


@pytest.mark.parametrize("model", ["gpt4o_mini", "haiku"])
@pytest.mark.parametrize("variant", MALFORMED_VARIANTS)
def test_a_malformed_answer_is_the_items_bad_response_row_and_its_call_is_recorded(cli, fake_api, model, variant):
    fake_api.fault_fn = lambda index, body: Fault("malformed", variant=variant) if index == 1 else None
    result = cli("--input", str(SAMPLE), "--limit", "3", "--model", model, "--batch-size", "1",
                 "--concurrency", "1")
    assert result.code == 1, result.err  # completed_with_errors, not an internal error
    assert "internal error" not in result.err
    run = result.run_dir
    rows = pd.read_csv(run / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert rows["status"].tolist() == ["ok", "error", "ok"]
    assert rows["error_type"].tolist() == ["", "bad_response", ""]
    assert json.loads((run / "metadata" / "run_summary.json").read_text())["status"] == "completed_with_errors"

    # Every call the fake served is on record, once, in strict JSON.
    served = fake_api.served
    assert [(s["index"], s["fault"], s["status"]) for s in served] == [(0, None, 200), (1, "malformed", 200),
                                                                       (2, None, 200)]
    calls = strict_lines(run / "outputs" / "calls.jsonl")
    assert len(calls) == len(served) == len(fake_api.requests_to(PATHS[model])) == 3
    assert [(c["status"], c["error_type"]) for c in calls] == [("ok", ""), ("error", "bad_response"), ("ok", "")]
    bad = calls[1]
    assert bad["item_ids"] == [IDS[1]]
    log = fake_api.usage_log  # what the fake billed for each answer, in order
    usage = json.loads((run / "outputs" / "token_usage.json").read_text())
    if variant in USAGE_VARIANTS:  # unknown: zero tokens counted, its worst case reported apart
        assert bad["usage_known"] is False and set(bad["usage"].values()) == {0}
        assert bad["usage_max"]["output_tokens"] == 512 and bad["usage_max"]["input_tokens"] > 1000
        billed = [log[0], log[2]]
        inp, _, _, out = PRICES[model]
        worst = (bad["usage_max"]["input_tokens"] * inp + 512 * out) / 1e6
        assert usage["calls_usage_unknown"] == 1
        assert usage["cost_usd_unsettled_max"] == pytest.approx(worst, abs=1e-10) and worst > 0
        assert f"+ up to ${worst:.6f} for calls without usage" in result.out
    else:  # the body was useless but its usage was not: the call is billed and counted
        assert bad["usage_known"] is True
        assert bad["usage"]["input_tokens"] == log[1]["input_tokens"] > 0
        assert bad["usage"]["output_tokens"] == log[1]["output_tokens"] > 0
        billed = log
        assert usage["calls_usage_unknown"] == 0 and usage["cost_usd_unsettled_max"] == 0
    assert usage["calls_made"] == 3 and usage["calls_failed"] == 1
    assert usage["total_completion_tokens"] == sum(e["output_tokens"] for e in billed)
    assert usage["cost_usd"] == pytest.approx(sum(dollars(e, model) for e in billed), abs=1e-10)
    assert usage["cost_usd"] > 0 and f"${usage['cost_usd']:.6f}" in result.out

    # The run goes on from its folder: the failed item is asked again, nothing crashes on the log.
    fake_api.fault_fn = None
    again = cli("--retry-failed", str(run))
    assert again.code == 0, again.err
    rows = pd.read_csv(run / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert rows["status"].tolist() == ["ok", "ok", "ok"]
    assert len(strict_lines(run / "outputs" / "calls.jsonl")) == len(fake_api.served) == 4


def test_a_nan_an_older_version_wrote_into_calls_jsonl_reads_as_unknown_usage(cli, fake_api):
    first = cli("--input", str(SAMPLE), "--limit", "3", "--model", "gpt4o_mini", "--batch-size", "1",
                "--concurrency", "1")
    assert first.code == 0, first.err
    log = first.run_dir / "outputs" / "calls.jsonl"
    lines = log.read_text().splitlines()
    damaged = json.loads(lines[0])
    damaged["usage"]["output_tokens"] = float("nan")
    log.write_text("\n".join([json.dumps(damaged), *lines[1:]]) + "\n")  # as the old code wrote it
    again = cli("--retry-failed", str(first.run_dir))
    assert again.code == 0, again.err
    usage = json.loads((first.run_dir / "outputs" / "token_usage.json").read_text())
    assert usage["calls_made"] == 3 and usage["calls_usage_unknown"] == 1
    assert usage["total_completion_tokens"] == sum(e["output_tokens"] for e in fake_api.usage_log[1:])
    assert "NaN" not in (first.run_dir / "outputs" / "token_usage.json").read_text()


def test_a_negative_token_count_is_never_a_negative_cost(cli, fake_api):
    fake_api.fault_fn = lambda index, body: Fault("malformed", variant="tokens_negative")
    result = cli("--input", str(SAMPLE), "--limit", "2", "--model", "gpt4o_mini", "--batch-size", "1",
                 "--concurrency", "1", "--max-cost", "0.01")
    usage = json.loads((result.run_dir / "outputs" / "token_usage.json").read_text())
    assert usage["cost_usd"] == 0 and usage["total_completion_tokens"] == 0
    assert usage["calls_usage_unknown"] == 2 and usage["cost_usd_unsettled_max"] > 0
    assert "$-" not in result.out and result.code == 1
