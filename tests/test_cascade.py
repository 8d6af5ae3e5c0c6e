"""The cascade: local answers everything, items below the threshold go to an LLM; costs and metrics per stage."""

from __future__ import annotations

import json
import signal

import pandas as pd

from conftest import ROOT, write_models_yaml
from fakeapi import FakeAPIServer
from test_crash_resume import lines, start, wait_for_calls

SAMPLE = ROOT / "data" / "sample_products.csv"
THRESHOLD = "0.9"


def table(run_dir):
    return pd.read_csv(run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)


def test_escalates_exactly_the_unsure_items_and_splits_cost_and_metrics_by_stage(cli, fake_api):
    local = cli("--model", "local", "--input", str(SAMPLE), "--limit", "20")
    assert local.code == 0, local.err
    alone = table(local.run_dir)
    unsure = alone[alone["confidence"].astype(float) < float(THRESHOLD)]["product_id"].tolist()
    assert 0 < len(unsure) < 20
    result = cli("--model", "local", "--input", str(SAMPLE), "--limit", "20", "--escalate-to", "gpt4o_mini",
                 "--escalate-below", THRESHOLD, "--batch-size", "2")
    assert result.code == 0, result.err
    rows = table(result.run_dir)
    sent = rows[rows["model_used"] == "openai/gpt-4o-mini"]
    assert sent["product_id"].tolist() == unsure
    assert set(rows["model_used"]) == {"local/all-MiniLM-L6-v2", "openai/gpt-4o-mini"}
    # Every row keeps the first model's answer and confidence.
    assert rows["first_confidence"].tolist() == alone["confidence"].tolist()
    assert rows["first_answer"].tolist() == (alone["category"] + "/" + alone["subcategory"]).tolist()
    kept = rows[rows["model_used"] != "openai/gpt-4o-mini"]
    assert kept[["category", "subcategory"]].equals(alone.loc[kept.index, ["category", "subcategory"]])
    # Calls: the LLM's carry its model; tokens and cost are split by model, the LLM's at its prices.
    calls = [json.loads(x) for x in (result.run_dir / "outputs" / "calls.jsonl").read_text().splitlines()]
    llm_calls = [c for c in calls if c["model"] == "openai/gpt-4o-mini"]
    assert sorted(i for c in llm_calls for i in c["item_ids"]) == sorted(unsure)
    usage = result.json("outputs/token_usage.json")
    served = fake_api.total_usage("openai")
    by_model = usage["by_model"]
    assert by_model["openai/gpt-4o-mini"]["total_prompt_tokens"] == served["input_tokens"]
    assert by_model["openai/gpt-4o-mini"]["total_completion_tokens"] == served["output_tokens"]
    assert by_model["openai/gpt-4o-mini"]["calls_made"] == served["calls"] == len(llm_calls)
    expected = ((served["input_tokens"] - served["cached_tokens"]) * 0.15 + served["cached_tokens"] * 0.075
                + served["output_tokens"] * 0.60) / 1e6
    assert round(usage["cost_usd"], 10) == round(expected, 10) and by_model["local/all-MiniLM-L6-v2"]["cost_usd"] == 0
    assert usage["total_prompt_tokens"] == sum(p["total_prompt_tokens"] for p in by_model.values())
    # Accuracy per stage, from the rows.
    cascade = result.json("outputs/metrics.json")["cascade"]
    correct = rows["correct"] == "True"
    first_right = rows["first_answer"] == rows["expected_category"] + "/" + rows["expected_subcategory"]
    assert cascade["escalated"] == len(unsure) and cascade["answered_by_first"] == 20 - len(unsure)
    assert cascade["accuracy"] == {
        "overall": round(correct.mean(), 6), "first_model_alone": round(first_right.mean(), 6),
        "first_stage_kept": round(correct[kept.index].mean(), 6),
        "second_stage": round(correct[sent.index].mean(), 6),
        "first_model_on_escalated": round(first_right[sent.index].mean(), 6)}
    assert result.json("outputs/metrics.json")["accuracy"] == cascade["accuracy"]["overall"]
