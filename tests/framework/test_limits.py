"""Client-side limits: the retry-after cap and --max-cost (rate limits: tests/test_ratelimit_*.py)."""

from __future__ import annotations

import json
import time

import pandas as pd
from fakeapi import Fault


def test_a_long_retry_after_is_capped_not_obeyed(cli, fake_api, tmp_path):
    # Anthropic's SDK would sleep an hour here; max_retry_wait (0.2 s in the test config) caps it.
    fake_api.faults = [Fault("status", status=429, retry_after=3600)]
    start = time.monotonic()
    result = cli("--model", "haiku", "--single-product", "Elderberry Gummies")
    assert result.code == 0, result.err
    assert time.monotonic() - start < 30
    assert result.json("outputs/token_usage.json")["retries"] == 1


def test_max_cost_stops_starting_requests_and_marks_the_rest_not_run(cli, fake_api, tmp_path):
    # Each single-product gpt4o_mini call costs about $0.0005 here; a $0.002 budget allows a few.
    result = cli("--input", "data/sample_products.csv", "--limit", "20", "--concurrency", "1", "--max-cost", "0.002")
    assert result.code == 1
    summary = result.json("metadata/run_summary.json")
    usage = result.json("outputs/token_usage.json")
    assert summary["status"] == "budget_exhausted"
    assert 0 < usage["cost_usd"] <= 0.002
    table = pd.read_csv(result.run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    done = (table["status"] == "ok").sum()
    assert done == usage["calls_made"] and (table["status"] == "not_run").sum() == 20 - done > 0
    assert result.out.startswith(f"budget_exhausted: {done} classified, 0 failed | {20 - done} not run")
    calls = [json.loads(line) for line in (result.run_dir / "outputs" / "calls.jsonl").read_text().splitlines()]
    assert len(calls) == len(fake_api.requests_to("/v1/chat/completions")) == done
