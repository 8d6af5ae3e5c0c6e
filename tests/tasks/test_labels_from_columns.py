"""Labels from the data: --taxonomy-from-columns and --labels-from-column, examples without ids, gold as names."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from labnb.fewshot import ExampleSet, ShotSelector, ShotSettings
from labnb.fewshot.examples import Example
from labnb.inputs.labelspace import slug, slug_ids

CATALOG = [  # a retailer's catalog: its own label columns, no id column
    ("Vitamin D3 2000 IU Softgels", "Vitamins & Minerals", "Vitamin D"),
    ("Magnesium Glycinate 400 mg Capsules", "Vitamins & Minerals", "Magnesium"),
    ("Whey Protein Isolate, Chocolate, 2 lb", "Sports Nutrition", "Protein Powder"),
    ("Creatine Monohydrate Powder 500 g", "Sports Nutrition", "Creatine"),
    ("Lavender Essential Oil 30 ml", "Aromatherapy", "Essential Oils"),
    ("Vegan Pea Protein, Vanilla", "Sports Nutrition", "Protein Powder"),
]
EXAMPLES = [  # labelled examples, gold written as names, no id column; the last is a copy of an input row
    ("Liquid Vitamin D3 Drops", "Vitamins & Minerals", "Vitamin D"),
    ("Magnesium Citrate Powder", "Vitamins & Minerals", "Magnesium"),
    ("Casein Protein Powder, Vanilla", "Sports Nutrition", "Protein Powder"),
    ("Micronized Creatine Capsules", "Sports Nutrition", "Creatine"),
    ("Eucalyptus Essential Oil", "Aromatherapy", "Essential Oils"),
    ("Reed Diffuser Refill, Cedar", "Aromatherapy", "Diffusers"),
    ("  creatine monohydrate POWDER 500 g", "Sports Nutrition", "Creatine"),
]
TAXONOMY_XML = """<?xml version='1.0' encoding='UTF-8'?>
<taxonomy name="catalog" version="{version}">
  <description>Built by --taxonomy-from-columns category,subcategory from {catalog} and {examples}.</description>
  <category id="vitamins-minerals" name="Vitamins &amp; Minerals">
    <subcategory id="vitamin-d" name="Vitamin D"/>
    <subcategory id="magnesium" name="Magnesium"/>
  </category>
  <category id="sports-nutrition" name="Sports Nutrition">
    <subcategory id="protein-powder" name="Protein Powder"/>
    <subcategory id="creatine" name="Creatine"/>
  </category>
  <category id="aromatherapy" name="Aromatherapy">
    <subcategory id="essential-oils" name="Essential Oils"/>
    <subcategory id="diffusers" name="Diffusers"/>
  </category>
</taxonomy>
"""


def write_csv(path: Path, header: list[str], rows) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def catalog_files(tmp_path: Path) -> tuple[Path, Path]:
    header = ["title", "category", "subcategory"]
    return write_csv(tmp_path / "catalog.csv", header, CATALOG), write_csv(tmp_path / "examples.csv", header, EXAMPLES)


def test_slugs_are_unique_readable_ids_and_names_are_kept():
    assert slug("Vitamin D & K2") == "vitamin-d-k2"
    assert slug("Men's Health") == "mens-health"
    assert slug("Crème Brûlée") == "creme-brulee"
    assert slug_ids(["A & B", "a-b", "***", "A & B"]) == {"A & B": "a-b", "a-b": "a-b-2", "***": "label-3"}


def test_taxonomy_from_columns_builds_snapshots_and_scores_the_label_space(cli, tmp_path):
    catalog, examples = catalog_files(tmp_path)
    done = cli("--model", "local", "--input", str(catalog), "--examples", str(examples),
               "--taxonomy-from-columns", "category,subcategory")
    assert done.code == 0, done.err
    from assign_cat.taxonomy import load_taxonomy

    snapshot = done.run_dir / "inputs" / "taxonomy.xml"
    version = load_taxonomy(snapshot).version
    assert snapshot.read_text() == TAXONOMY_XML.format(version=version, catalog=catalog, examples=examples)
    config = done.json("config/run_config.json")
    assert (config["taxonomy_from_columns"], config["columns_offered"], config["columns_withheld"]) == (
        ["category", "subcategory"], [], [])
    with (done.run_dir / "outputs" / "classifications.csv").open() as f:
        rows = list(csv.DictReader(f))
    # The label columns became the gold (as ids), and are not carried twice as input_category
    assert [(r["product_id"], r["expected_category"], r["expected_subcategory"]) for r in rows] == [
        ("p0001", "vitamins-minerals", "vitamin-d"), ("p0002", "vitamins-minerals", "magnesium"),
        ("p0003", "sports-nutrition", "protein-powder"), ("p0004", "sports-nutrition", "creatine"),
        ("p0005", "aromatherapy", "essential-oils"), ("p0006", "sports-nutrition", "protein-powder")]
    assert "input_category" not in rows[0]
    # Examples without ids: only the one whose text copies an input row is left out (by content, not by p0004)
    summary = done.json("metadata/run_summary.json")
    assert summary["examples"] == {"count": 7, "overlapping_item_ids": ["p0004"], "overlapping_items": 1,
                                   "overlapping_pairs": 1}
    learning = done.json("config/system_info.json")["model"]["learning"]
    assert (learning["count"], learning["left_out_matching_the_input"]) == (7, 1)
    assert "match an example by text (e.g. p0004)" in done.err


def test_taxonomy_from_columns_refuses_a_missing_column_and_a_taxonomy_file(cli, tmp_path):
    catalog, _ = catalog_files(tmp_path)
    missing = cli("--model", "local", "--input", str(catalog), "--taxonomy-from-columns", "category,aisle")
    assert missing.code == 2 and missing.run_dirs == []
    assert missing.err.strip().splitlines()[-1] == (
        f"error: --taxonomy-from-columns: {catalog} has no column 'aisle' (its other columns: category, subcategory)")
    both = cli("--model", "local", "--input", str(catalog), "--taxonomy-from-columns", "category,subcategory",
               "--taxonomy", str(tmp_path / "t.xml"))
    assert both.code == 2 and "give --taxonomy FILE or --taxonomy-from-columns CAT,SUB, not both" in both.err
    one = cli("--model", "local", "--input", str(catalog), "--taxonomy-from-columns", "category")
    assert one.code == 2 and "expected 2 column names, e.g. category,subcategory, got 'category'" in one.err


def test_examples_with_gold_names_are_accepted_like_the_input(cli, tmp_path):
    """--examples with gold written as the taxonomy's names (and a 'Category > Subcategory' path)."""
    examples = write_csv(tmp_path / "ex.csv", ["title", "expected_category", "expected_subcategory"], [
        ("Liquid Vitamin D3 Drops", "Vitamins", "Vitamin D & K2"),
        ("Magnesium Citrate Powder", "minerals", "magnesium"),
        ("Iron Bisglycinate 25 mg", "", "Minerals > Iron")])
    catalog = write_csv(tmp_path / "in.csv", ["title"], [("Vitamin D3 5000 IU",), ("Ferrous Sulfate 65 mg",)])
    done = cli("--model", "local", "--input", str(catalog), "--examples", str(examples))
    assert done.code == 0, done.err
    learning = done.json("config/system_info.json")["model"]["learning"]
    assert (learning["count"], learning["left_out_matching_the_input"], learning["labels_with_examples"]) == (3, 0, 3)


def test_ids_numbered_by_position_are_never_evidence_of_overlap():
    examples = ExampleSet((Example("p0001", "Vitamin D drops", "a"), Example("p0002", "Creatine", "b")))
    items = [("p0001", "Magnesium"), ("p0002", "creatine ")]
    by_text = ShotSelector(examples, ShotSettings(0, "fixed"), match_ids=False).leakage(items)
    assert (by_text.pairs, by_text.item_ids, by_text.example_indexes, by_text.by_id) == (1, ("p0002",), (1,), False)
    by_id = ShotSelector(examples, ShotSettings(0, "fixed")).leakage(items)
    assert (by_id.pairs, by_id.item_ids, by_id.example_indexes) == (2, ("p0001", "p0002"), (0, 1))
    from labnb.inputs.itemrows import ids_generated

    assert ids_generated(["p0001", "p0002"]) and ids_generated(["t0001"])
    assert not ids_generated(["p0002", "p0001"]) and not ids_generated(["sp-001"]) and not ids_generated([])


def test_labels_from_column_builds_the_flat_label_set(text_cli, tmp_path):
    header = ["text", "label"]
    items = write_csv(tmp_path / "tickets.csv", header, [
        ("I was charged twice this month", "Billing"), ("The app crashes on start", "Bug report"),
        ("Please add a dark mode", "Feature request"), ("Refund my last payment", "billing")])
    examples = write_csv(tmp_path / "ex.csv", header, [("Where is my invoice?", "Billing"),
                                                        ("Cancel my account", "Account")])
    done = text_cli("--model", "local", "--input", str(items), "--examples", str(examples),
                    "--labels-from-column", "label")
    assert done.code == 0, done.err
    assert done.run_dir.name.startswith("tickets-")
    import yaml

    snapshot = yaml.safe_load((done.run_dir / "inputs" / "labels.yaml").read_text())
    assert snapshot["labels"] == [{"id": "billing", "name": "Billing"}, {"id": "bug-report", "name": "Bug report"},
                                  {"id": "feature-request", "name": "Feature request"},
                                  {"id": "account", "name": "Account"}]
    assert snapshot["description"] == f"Built by --labels-from-column label from {items} and {examples}."
    with (done.run_dir / "outputs" / "classifications.csv").open() as f:
        gold = [(r["item_id"], r["expected_label"]) for r in csv.DictReader(f)]
    assert gold == [("t0001", "billing"), ("t0002", "bug-report"), ("t0003", "feature-request"),
                    ("t0004", "billing")]
    assert json.loads((done.run_dir / "config" / "run_config.json").read_text())["labels_from_column"] == "label"


@pytest.mark.parametrize("argv, message", [
    (["--labels-from-column", "topic"], "has no column 'topic' (its other columns: label)"),
    (["--labels-from-column", "label", "--labels", "x.yaml"], "give --labels FILE or --labels-from-column NAME"),
])
def test_labels_from_column_refusals(text_cli, tmp_path, argv, message):
    items = write_csv(tmp_path / "t.csv", ["text", "label"], [("hello", "Greeting")])
    done = text_cli("--model", "local", "--input", str(items), *argv)
    assert done.code == 2 and message in done.err and done.run_dirs == []
