"""The cascade: local answers everything, items below the threshold go to an LLM; costs and metrics per stage."""

from __future__ import annotations

import json
import signal
import time

import pandas as pd
from test_crash_resume import lines, start, wait_for_calls

from conftest import ROOT, write_models_yaml

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
    # A replay is one more cascade from the snapshot: the same rows.
    again = cli("--replay", str(result.run_dir))
    assert again.code == 0, again.err
    columns = ["product_id", "category", "subcategory", "model_used", "first_answer", "first_confidence"]
    assert table(again.run_dirs[-1])[columns].equals(rows[columns])


def test_dry_run_prices_the_escalation_at_the_share_local_confidences_imply(cli):
    args = ("--input", str(SAMPLE), "--limit", "20", "--batch-size", "2", "--dry-run")
    local = cli("--model", "local", "--input", str(SAMPLE), "--limit", "20")
    confidences = table(local.run_dir)["confidence"].astype(float)
    unsure = confidences < float(THRESHOLD)
    cascade = cli("--model", "local", "--escalate-to", "gpt4o_mini", "--escalate-below", THRESHOLD, *args)
    assert cascade.code == 0 and len(cascade.run_dirs) == 1, cascade.err
    line = cascade.out.splitlines()[-1]
    n = int(unsure.sum())
    assert line.startswith(f"cascade: {n:,} of 20 products ({n / 20:.1%}) below {THRESHOLD} go to gpt4o_mini "
                           f"(the local model's confidences, computed now): {(n + 1) // 2:,} requests")
    # The same requests as a dry run of the LLM alone on exactly those items.
    ids = table(local.run_dir)["product_id"][unsure].tolist()
    subset = cli.runs_dir / "unsure.csv"
    pd.read_csv(SAMPLE, dtype=str, keep_default_na=False).set_index("product_id").loc[ids].reset_index().to_csv(
        subset, index=False)
    alone = cli("--model", "gpt4o_mini", "--input", str(subset), "--batch-size", "2", "--dry-run")
    row = next(x for x in alone.out.splitlines() if x.startswith("gpt4o_mini")).split()
    assert f"{row[2]} input tok, {row[3]} output tok, ${row[5]} (with cache ${row[6]})" in line


def test_kill_9_during_the_escalation_then_resume(cli, fake_api, tmp_path):
    fake_api.latency = 0.08
    models, runs = write_models_yaml(tmp_path / "m.yaml"), tmp_path / "runs"
    # 24 products, about a third of them below 0.99: the kill lands while the LLM still has work.
    cascade = ("--model", "local", "--escalate-to", "gpt4o_mini", "--escalate-below", "0.99", "--limit", "24")
    process = start(fake_api, models, runs, *cascade)
    run = wait_for_calls(runs, 1, process, timeout=180)
    while not any(c["model"] for c in lines(run / "outputs" / "calls.jsonl")):  # until an LLM call is logged
        assert process.poll() is None, process.communicate()
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert json.loads((run / "metadata" / "run_summary.json").read_text())["status"] == "running"
    resumed = cli("--resume", str(run))  # in this process: the local model is loaded already
    assert resumed.code == 0, resumed.err
    rows = table(run)
    assert len(rows) == 24 and rows["product_id"].is_unique and set(rows["status"]) == {"ok"}
    unsure = rows["first_confidence"].astype(float) < 0.99
    assert (rows["model_used"] == "openai/gpt-4o-mini").tolist() == unsure.tolist() and unsure.any()
    calls = lines(run / "outputs" / "calls.jsonl")
    ours = {json.loads(c["response"])["id"] for c in calls if c["model"] and c["status"] == "ok"}
    served = [e for e in fake_api.usage_log if e["id"] in ours]
    usage = json.loads((run / "outputs" / "token_usage.json").read_text())["by_model"]["openai/gpt-4o-mini"]
    assert usage["total_prompt_tokens"] == sum(e["input_tokens"] for e in served) and len(served) == len(ours)
    summary = json.loads((run / "metadata" / "run_summary.json").read_text())
    assert summary["status"] == "completed" and [r["mode"] for r in summary["resumes"]] == ["resume"]
