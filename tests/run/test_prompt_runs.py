"""Prompt files and few-shot examples through the real CLI and SDKs against the fake API."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pandas as pd

from assign_cat.products import load_products
from assign_cat.task import AssignCat
from conftest import ROOT
from tasks.test_assign_cat_prompt_files import GOLDEN

SAMPLE = ROOT / "data" / "sample_products.csv"
SHIPPED = AssignCat.prompt_file
TASK = AssignCat(ROOT / "config" / "taxonomy.xml")


def sample_file(path: Path, rows: slice, planted: list[dict[str, str]] = ()) -> Path:
    """Rows of the sample catalog (plus ``planted`` ones) as a CSV file."""
    with SAMPLE.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields, chosen = reader.fieldnames, list(reader)[rows]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows([*planted, *chosen])
    return path


def custom_prompt(tmp_path: Path) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(SHIPPED.read_text(encoding="utf-8").replace(
        "You classify the products of an online shop", "You are a careful merchandiser. You classify the products"))
    return path


def chat_requests(fake_api) -> list[dict]:
    return [r["json"] for r in fake_api.requests_to("/v1/chat/completions")]


def test_a_prompt_file_is_snapshotted_recorded_and_replayed(cli, fake_api, tmp_path):
    prompt = custom_prompt(tmp_path)
    first = cli("--input", str(sample_file(tmp_path / "in.csv", slice(0, 3))), "--prompt", str(prompt),
                "--batch-size", "3")
    assert first.code == 0, first.err
    run = first.run_dir
    assert (run / "inputs" / "prompt.yaml").read_bytes() == prompt.read_bytes()
    sent = chat_requests(fake_api)[0]["messages"]
    expected_system = GOLDEN["two-level/system/explain=False"].replace(
        "You classify the products of an online shop", "You are a careful merchandiser. You classify the products")
    assert sent[0]["content"] == expected_system
    assert sent[1]["content"] == TASK.render_user(load_products(tmp_path / "in.csv"))
    recorded = first.json("inputs/prompt_templates.json")
    assert recorded["prompt_file"]["sha256"] == hashlib.sha256(prompt.read_bytes()).hexdigest()
    assert recorded["rendered_system_prompt"] == expected_system
    prompt.write_text("broken: [")  # the replay reads its own copy
    again = cli("--replay", str(run))
    assert again.code == 0, again.err
    assert (again.run_dirs[-1] / "inputs" / "prompt.yaml").read_bytes() == (run / "inputs" / "prompt.yaml").read_bytes()
    bodies = chat_requests(fake_api)
    assert len(bodies) == 2 and bodies[0] == bodies[1]


def test_no_prompt_file_sends_todays_prompt_and_openai_rows_carry_confidence(cli, fake_api, tmp_path):
    products = sample_file(tmp_path / "in.csv", slice(0, 2))
    titles = [p.title for p in load_products(products)]
    fake_api.answer_probabilities = {titles[0]: 0.625}
    result = cli("--input", str(products), "--batch-size", "2")
    assert result.code == 0, result.err
    body = chat_requests(fake_api)[0]
    # today's prompt, byte for byte, rendered from the shipped prompt file
    assert body["messages"][0]["content"] == GOLDEN["two-level/system/explain=False"]
    assert body["messages"][1]["content"] == GOLDEN["two-level/user/sample[:2]"]
    assert body["logprobs"] is True
    assert not (result.run_dir / "inputs" / "prompt.yaml").exists()
    table = pd.read_csv(result.run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert table["confidence"].tolist() == ["0.625000", "0.990000"]


def test_bad_prompt_files_are_one_line_exit_2_and_no_folder(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("system: |\n  {{ labels }}\n  {{ nope }}\nuser: x\n")
    for extra in ((), ("--dry-run",)):
        result = cli("--single-product", "Zinc", "--prompt", str(bad), *extra)
        assert result.code == 2 and result.run_dirs == []
        assert result.err == (f"error: {bad}: line 3: system template: unknown variable 'nope' (known: answer_format, "
                              "choice_noun, choices, examples, explain, item_noun, labels, taxonomy)\n")
    result = cli("--single-product", "Zinc", "--prompt", str(tmp_path / "none.yaml"))
    assert result.code == 2 and result.err == f"error: {tmp_path}/none.yaml: prompt file not found\n"


def test_knn_examples_per_call_leakage_guard_and_overlap_count(cli, fake_api, tmp_path):
    products = sample_file(tmp_path / "in.csv", slice(0, 3))  # sp-001 … sp-003
    planted = [{"product_id": "sp-002", "title": "Omega-3 Fish Oil", "expected_category": "omega-3",
                "expected_subcategory": "fish-oil"},
               {"product_id": "x-1", "title": "complete adult MULTIVITAMIN & Multimineral, Once Daily, 90 Tablets",
                "expected_category": "vitamins", "expected_subcategory": "multivitamins"}]
    examples = sample_file(tmp_path / "ex.csv", slice(10, 40), planted)
    result = cli("--input", str(products), "--examples", str(examples), "--shots", "2", "--batch-size", "1")
    assert result.code == 0, result.err
    assert result.err.count("warning: the examples file overlaps the input: 2 products match an example") == 1
    calls = [json.loads(line) for line in (result.run_dir / "outputs" / "calls.jsonl").read_text().splitlines()]
    assert sorted((c["item_ids"], c["request"]["example_ids"]) for c in calls) == [
        (["sp-001"], ["sp-036", "sp-012"]), (["sp-002"], ["sp-035", "sp-036"]), (["sp-003"], ["sp-028", "sp-011"])]
    users = [body["messages"][1]["content"] for body in chat_requests(fake_api)]
    user = next(u for u in users if "\n1. Complete Adult Multivitamin" in u)  # sp-001's request
    assert user.startswith("Examples of classified products, each followed by the number of its subcategory:\n"
                           "Complete Meal Shake")
    assert result.json("metadata/run_summary.json")["examples"] == {
        "count": 32, "overlapping_pairs": 2, "overlapping_items": 2, "overlapping_item_ids": ["sp-001", "sp-002"]}
    assert (result.run_dir / "inputs" / "examples.csv").read_bytes() == examples.read_bytes()


def test_dry_run_show_prompt_prints_the_first_request_and_prices_the_examples(cli, tmp_path):
    products = sample_file(tmp_path / "in.csv", slice(0, 2))
    examples = sample_file(tmp_path / "ex.csv", slice(10, 40))
    plain = cli("--input", str(products), "--dry-run")
    fixed = cli("--input", str(products), "--examples", str(examples), "--shots", "2", "--shot-selection", "fixed",
                "--dry-run", "--show-prompt")
    assert plain.code == fixed.code == 0 and fixed.run_dirs == []
    shown = ("\n\nExamples of classified products, each followed by the number of its subcategory:\n"
             "Liquid Ionic Trace Minerals, 8 fl oz (237 ml) | description:")
    system = fixed.out.split("--- system ---\n", 1)[1].split("\n--- user ---\n", 1)[0]
    assert shown in system and system.endswith(GOLDEN["two-level/system/explain=False"].rsplit("\n\n", 1)[1])
    user = fixed.out.split("\n--- user ---\n", 1)[1]
    assert user.startswith(GOLDEN["two-level/user/sample[:1]"] + "\n--- answer schema ---\n")

    def input_tokens(out: str) -> int:
        line = next(x for x in out.splitlines() if x.startswith("gpt4o_mini"))
        return int(line.split()[2].replace(",", ""))

    assert input_tokens(fixed.out) > input_tokens(plain.out)
