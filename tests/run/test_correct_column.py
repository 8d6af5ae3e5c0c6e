"""``correct`` in classifications.csv is empty where nothing is scored, so ``df.correct.mean()`` is the accuracy."""

from __future__ import annotations

import pandas as pd

from assign_cat.products import load_products
from conftest import ROOT
from tasks.test_classify_text import SAMPLE as REVIEWS
from tasks.test_classify_text import gold, plant

PRODUCTS = ROOT / "data" / "sample_products.csv"


def _half_gold(source, path, gold_columns):
    """``source`` with the gold columns blanked on every second row; returns the rows kept with gold."""
    df = pd.read_csv(source, dtype=str, keep_default_na=False)
    df.loc[df.index % 2 == 1, gold_columns] = ""
    df.to_csv(path, index=False)
    return df


def test_classify_text_rows_without_gold_leave_correct_empty(text_cli, fake_api, tmp_path):
    source = _half_gold(REVIEWS, tmp_path / "half.csv", ["expected_label"]).head(10)
    source.to_csv(tmp_path / "half.csv", index=False)
    answers = gold()
    wrong = source["text"][0]  # has gold, answered wrong
    answers[wrong] = "negative" if answers[wrong] != "negative" else "positive"
    plant(fake_api, answers)
    result = text_cli("--input", str(tmp_path / "half.csv"))
    assert result.code == 0, result.err
    table = pd.read_csv(result.run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    with_gold = source["expected_label"] != ""
    assert table["correct"][~with_gold.values].tolist() == [""] * 5
    right = [("False" if text == wrong else "True") for text in source["text"][with_gold]]
    assert table["correct"][with_gold.values].tolist() == right
    loaded = pd.read_csv(result.run_dir / "outputs" / "classifications.csv")
    metrics = result.json("outputs/metrics.json")
    assert round(loaded["correct"].mean(), 6) == metrics["accuracy"] == right.count("True") / 5 == 0.8


def test_assign_cat_rows_without_gold_leave_correct_empty(cli, fake_api, tmp_path):
    products = load_products(PRODUCTS)[:6]
    fake_api.labels = {p.title: (p.expected_category, p.expected_subcategory) for p in products}
    fake_api.labels[products[0].title] = ("vitamins", "multivitamins") if products[0].expected_subcategory != \
        "multivitamins" else ("protein", "whey-protein")
    source = _half_gold(PRODUCTS, tmp_path / "half.csv", ["expected_category", "expected_subcategory"]).head(6)
    source.to_csv(tmp_path / "half.csv", index=False)
    result = cli("--input", str(tmp_path / "half.csv"), "--batch-size", "3")
    assert result.code == 0, result.err
    table = pd.read_csv(result.run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert table["correct"].tolist() == ["False", "", "True", "", "True", ""]
    loaded = pd.read_csv(result.run_dir / "outputs" / "classifications.csv")
    assert round(loaded["correct"].mean(), 6) == result.json("outputs/metrics.json")["accuracy"] == 0.666667
