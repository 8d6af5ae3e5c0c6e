"""The real CLI against a real OpenAI-compatible server: llama.cpp's llama-server with Gemma 3 270M.

A 270M model is for wiring, not for labels: accuracy is not asserted. What is asserted is what the project
promises for any OpenAI-compatible server: every row a valid label or an error row with its reason, usage
from the server's own counts, no rate-limit headers (none are sent), no errors with --concurrency auto on a
one-slot server, $0 for a price-0 model, and the second identical run answered from the response cache.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT, in_process_cli, taxonomy_pairs

pytestmark = pytest.mark.xdist_group("llama")  # one worker, one server
TRANSPORT_ERRORS = {"timeout", "server_error", "rate_limit", "connection_error", "overloaded", "bad_request"}


@pytest.fixture
def models(tmp_path, llama_server, monkeypatch) -> Path:
    monkeypatch.setenv("LLAMA_KEY", "no-key")  # llama-server runs without --api-key; the SDK wants one
    path = tmp_path / "local-models.yaml"  # in_process_cli writes its own models.yaml
    path.write_text(yaml.safe_dump({"default": "gemma", "models": {"gemma": {
        "provider": "openai", "model": "gemma-3-270m", "base_url": f"{llama_server.url}/v1",
        "api_key_env": "LLAMA_KEY", "temperature": 0, "max_tokens": 256, "max_retries": 1, "timeout": 300,
        "pricing": {"input": 0, "cached_input": 0, "cache_write": 0, "output": 0, "batch_discount": 0,
                    "prices_as_of": "2026-12-06"}}}}))
    return path


def calls(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "outputs" / "calls.jsonl").read_text().splitlines()]


def check_run(result, valid, label_columns: list[str]) -> pd.DataFrame:
    assert result.code in (0, 1), result.err  # 1: some rows invalid, which a 270M model may well give
    rows = pd.read_csv(result.run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert len(rows) == 10
    for row in rows.to_dict("records"):
        if row["status"] == "ok":
            assert valid(*(row[c] for c in label_columns)), row
        else:  # an error row says why
            assert row["status"] in ("invalid", "error") and row["error_type"] and row["error"], row
    made = calls(result.run_dir)
    assert made and not any(c["error_type"] in TRANSPORT_ERRORS for c in made), made  # one slot, not overloaded
    assert all(c["retries"] == 0 for c in made)
    for call in made:
        if call["status"] == "ok" or call["error_type"] in ("invalid_label", "truncated"):
            served = json.loads(call["response"])["usage"]  # the server's own counts, as it sent them
            assert call["usage"]["input_tokens"] == served["prompt_tokens"] > 0
            assert call["usage"]["output_tokens"] == served["completion_tokens"] > 0
    usage = result.json("outputs/token_usage.json")
    assert usage["total_tokens"] == sum(c["usage"]["input_tokens"] + c["usage"]["output_tokens"] for c in made)
    assert usage["cost_usd"] == 0 and usage["rate_limits"] == {"limits": {}, "rate_limited_responses": 0}
    return rows


def test_assign_cat_on_ten_products(llama_server, models, tmp_path, capsys):
    from assign_cat.cli import main

    items = tmp_path / "products.csv"
    pd.read_csv(ROOT / "data" / "sample_products.csv", dtype=str).head(10).to_csv(items, index=False)
    run = in_process_cli(main, tmp_path, capsys)
    dry = run("--model", "gemma", "--input", str(items), "--dry-run", models_config=models)
    assert dry.code == 0 and not dry.run_dirs
    line = next(x for x in dry.out.splitlines() if x.startswith("gemma"))
    assert line.split()[1] == "10" and line.split()[5] == "0.000000"  # 10 requests, $0
    pairs = set(taxonomy_pairs())
    result = run("--model", "gemma", "--input", str(items), "--concurrency", "auto", models_config=models)
    rows = check_run(result, lambda c, s: (c, s) in pairs, ["category", "subcategory"])
    # The same run again: a product answered cleanly at the first request is answered from the response cache.
    first = result.run_dir
    ok = set(rows.loc[rows["status"] == "ok", "product_id"])
    clean = {c["item_ids"][0] for c in calls(first) if c["attempt"] == "first" and c["status"] == "ok"} & ok
    clean -= {c["item_ids"][0] for c in calls(first) if c["attempt"] != "first"}
    again = run("--model", "gemma", "--input", str(items), models_config=models)
    assert again.code in (0, 1), again.err
    hits = {c["item_ids"][0]: c["cached_from"] for c in calls(again.run_dir) if c["attempt"] == "first"}
    assert {p for p in clean if hits.get(p) == first.name} == clean


def test_classify_text_with_the_sentiment_labels_on_ten_texts(llama_server, models, tmp_path, capsys):
    from classify_text.cli import main

    items = tmp_path / "reviews.csv"
    pd.read_csv(ROOT / "data" / "sample_reviews.csv", dtype=str).head(10).to_csv(items, index=False)
    run = in_process_cli(main, tmp_path, capsys)
    labels = ROOT / "config" / "labels" / "sentiment.yaml"
    ids = {label["id"] for label in yaml.safe_load(labels.read_text())["labels"]}
    result = run("--model", "gemma", "--input", str(items), "--labels", str(labels), "--concurrency", "auto",
                 models_config=models)
    check_run(result, lambda label: label in ids, ["label"])
