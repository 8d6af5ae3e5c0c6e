"""The real CLI against a real OpenAI-compatible server: llama.cpp's llama-server with Gemma 3 270M.

A 270M model is for wiring, not for labels: accuracy is not asserted. What is asserted is what the project
promises for any OpenAI-compatible server: every row a valid label or an error row with its reason, usage
from the server's own counts, no rate-limit headers (none are sent), no errors with --concurrency auto on a
one-slot server, $0 for a price-0 model, the second identical run answered from the response cache, and a
prompt longer than the server's context an error row that says so, sent once.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT, in_process_cli, taxonomy_pairs

pytestmark = pytest.mark.xdist_group("llama")  # one worker, one server
TRANSPORT_ERRORS = {"timeout", "server_error", "rate_limit", "connection_error", "overloaded", "bad_request"}


def models_yaml(path: Path, server) -> Path:
    # max_tokens 96: an answer for one item takes under 40 tokens, but a 270M model often rambles on to the limit,
    # and on 2 busy cores every token of that costs up to a second.
    path.write_text(yaml.safe_dump({"default": "gemma", "models": {"gemma": {
        "provider": "openai", "model": "gemma-3-270m", "base_url": f"{server.url}/v1",
        "api_key_env": "LLAMA_KEY", "temperature": 0, "max_tokens": 96, "max_retries": 1, "timeout": 300,
        "pricing": {"input": 0, "cached_input": 0, "cache_write": 0, "output": 0, "batch_discount": 0,
                    "prices_as_of": "2026-12-06"}}}}))
    return path


@pytest.fixture
def models(tmp_path, llama_server, monkeypatch) -> Path:
    monkeypatch.setenv("LLAMA_KEY", "no-key")  # llama-server runs without --api-key; the SDK wants one
    return models_yaml(tmp_path / "local-models.yaml", llama_server)  # in_process_cli writes its own models.yaml


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
    assert usage["cost_usd"] == 0 and usage["rate_limits"]["limits"] == {}  # llama-server sends no such headers
    assert usage["rate_limits"]["rate_limited_responses"] == 0
    concurrency = usage["rate_limits"]["concurrency"]  # what --concurrency auto decided, on record
    # base_url: auto probed with one request, then grew only while answers did not wait (no blind wave of 8)
    assert concurrency["mode"] == "auto" and concurrency["start"] == 1 and concurrency["overload_cuts"] == 0
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


def test_a_prompt_longer_than_the_servers_context_is_an_error_row_sent_once(small_context_llama_server, tmp_path,
                                                                             capsys, monkeypatch):
    from assign_cat.cli import main

    monkeypatch.setenv("LLAMA_KEY", "no-key")
    models = models_yaml(tmp_path / "small-context.yaml", small_context_llama_server)
    items = tmp_path / "products.csv"
    pd.read_csv(ROOT / "data" / "sample_products.csv", dtype=str).head(2).to_csv(items, index=False)
    result = in_process_cli(main, tmp_path, capsys)("--model", "gemma", "--input", str(items), "--concurrency",
                                                     "auto", models_config=models)
    assert result.code == 1 and "Traceback" not in result.err  # nothing classified: exit 1, one-line reason
    rows = pd.read_csv(result.run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert list(rows["status"]) == ["error", "error"] and set(rows["error_type"]) == {"context_exceeded"}
    for error in rows["error"]:
        match = re.fullmatch(r"the prompt is (\d+) tokens, more than the server's context size of 1024 tokens: "
                             r"start the server with a larger context \(llama-server --ctx-size (\d+)\) or send a "
                             r"shorter prompt \(a smaller --batch-size\)", error)
        assert match and 1024 < int(match[1]) < int(match[2]) - 511, error
    made = calls(result.run_dir)
    assert [(c["status"], c["error_type"], c["retries"]) for c in made] == [("error", "context_exceeded", 0)] * 2
    # The server's own log: each request refused once, none sent again.
    refused = [line for line in small_context_llama_server.log_path.read_text().splitlines()
               if "exceeds the available context size (1024 tokens)" in line]
    assert len(refused) == 2, refused
