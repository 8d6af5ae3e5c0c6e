"""The local model learns from --examples: deterministic, recorded, and labels without examples stay reachable."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd

from assign_cat.products import load_products
from assign_cat.task import AssignCat
from conftest import ROOT
from labnb.classify.similarity import Design, choice_index, score_items
from labnb.local.embedder import load_embedder
from labnb.local.learner import fit_learner

SAMPLE = ROOT / "data" / "sample_products.csv"


def split(tmp_path):
    """The sample catalog cut in two: the first 60 rows are examples, the other 26 the input."""
    with SAMPLE.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    paths = []
    for name, part in (("ex.csv", rows[:60]), ("in.csv", rows[60:])):
        with (tmp_path / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(part)
        paths.append(tmp_path / name)
    return paths


def sample_scores():
    """The sample catalog: its products, zero-shot probabilities, vectors and texts, and each choice's column."""
    task = AssignCat(ROOT / "config" / "taxonomy.xml")
    products = load_products(SAMPLE)
    embedder = load_embedder()
    index = choice_index(embedder, list(task.choices().values()), Design())
    zero_shot, _ = score_items(embedder, index, Design(), products)
    vectors = embedder.encode([p.title for p in products])
    return products, zero_shot, vectors, [p.text for p in products], {c.id: i for i, c in enumerate(index.choices)}


def test_local_run_learns_from_examples_deterministically_and_records_it(cli, tmp_path):
    examples, products = split(tmp_path)
    runs = [cli("--model", "local", "--input", str(products), "--examples", str(examples)) for _ in range(2)]
    assert [r.code for r in runs] == [0, 0], runs[0].err
    tables = [pd.read_csv(run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
              for run_dir in runs[0].run_dirs]
    columns = ["product_id", "category", "subcategory", "confidence", "raw_response"]
    assert tables[0][columns].equals(tables[1][columns]) and len(tables[0]) == 26
    learning = json.loads((runs[0].run_dirs[0] / "config" / "system_info.json").read_text())["model"]["learning"]
    assert learning["examples"] == 60 and learning["count"] == 60
    # One or two examples a label, zero-shot right on 58 of 60 already: cross-validation keeps the ridge on embeddings.
    assert learning["method"].startswith("ridge linear classifier on sentence embeddings")
    assert learning["model_reads"] == ["embedding"] and learning["ridge"] in learning["settings"]["ridges"]
    assert learning["cross_validation"]["used"] is True and learning["settings"]["folds"] == 5
    assert learning["cross_validation"]["candidates"] == [
        "ridge linear classifier on sentence embeddings",
        "logistic regression on sentence embeddings + TF-IDF word and character n-grams"]
    assert set(learning["features"]) == {"embedding", "word_tfidf", "char_tfidf"} and learning["settings"]["lexical"]
    assert len(learning["content_sha256"]) == 64 and learning["file_sha256"] != learning["content_sha256"]
    summary = runs[0].json("metadata/run_summary.json")
    assert summary["examples"]["count"] == 60 and summary["examples"]["overlapping_pairs"] == 0


def test_labels_without_examples_stay_reachable_and_probabilities_sum_to_one():
    products, zero_shot, vectors, _, position = sample_scores()
    gold = np.array([position[f"{p.expected_category}/{p.expected_subcategory}"] for p in products])
    # Train without any whey-protein example; zero-shot alone gets the three whey products right.
    whey = gold == position["sports-nutrition/whey-protein"]
    assert whey.sum() == 3 and (zero_shot[whey].argmax(axis=1) == gold[whey]).all()
    texts = np.array([p.text for p in products], dtype=object)
    first = fit_learner(vectors[~whey], gold[~whey], zero_shot[~whey], texts=list(texts[~whey]))
    again = fit_learner(vectors[~whey], gold[~whey], zero_shot[~whey], texts=list(texts[~whey]))
    probabilities = first.predict(vectors[whey], zero_shot[whey], list(texts[whey]))
    assert np.array_equal(probabilities, again.predict(vectors[whey], zero_shot[whey], list(texts[whey])))
    assert first.record()["model_sha256"] == again.record()["model_sha256"]
    assert (probabilities.argmax(axis=1) == gold[whey]).all()
    assert np.allclose(probabilities.sum(axis=1), 1.0) and first.n_labels == 64


def test_examples_of_a_single_label_leave_the_answers_to_zero_shot():
    """One label with examples (one example, or many): the learned part would give it to every item; its weight is 0."""
    products, zero_shot, vectors, texts, position = sample_scores()
    daily = [i for i, p in enumerate(products) if p.expected_subcategory == "daily-immune"]
    label = position["immune-support/daily-immune"]
    assert len(daily) == 3
    # One example (no cross-validation), then the three products each twice: six, enough for cross-validation,
    # which would otherwise trust the learned part fully (it is right on every example).
    for used, cross_validated in ((daily[:1], False), (daily * 2, True)):
        learner = fit_learner(vectors[used], [label] * len(used), zero_shot[used], texts=[texts[i] for i in used])
        assert (learner.weight, learner.n_labels, learner.cv["used"]) == (0.0, 1, cross_validated)
        predicted = learner.predict(vectors, zero_shot, texts).argmax(axis=1)
        assert predicted.tolist() == zero_shot.argmax(axis=1).tolist()
    assert (zero_shot.argmax(axis=1) != label).sum() > 70  # the learned part alone would have made these wrong


def test_learning_beats_zero_shot_on_a_split_of_the_shipped_reviews(text_cli, tmp_path):
    """classify-text's sample: the first half of each label's reviews are examples, the rest the input."""
    rows = pd.read_csv(ROOT / "data" / "sample_reviews.csv", dtype=str, keep_default_na=False)
    first_half = rows.groupby("expected_label").cumcount() < rows.groupby("expected_label")["id"].transform("size") // 2
    rows[first_half].to_csv(tmp_path / "ex.csv", index=False)
    rows[~first_half].to_csv(tmp_path / "in.csv", index=False)
    zero = text_cli("--model", "local", "--input", str(tmp_path / "in.csv"))
    learned = text_cli("--model", "local", "--input", str(tmp_path / "in.csv"), "--examples", str(tmp_path / "ex.csv"))
    assert zero.code in (0, 1) and learned.code in (0, 1), learned.err
    accuracy = [json.loads((r / "outputs" / "metrics.json").read_text())["accuracy"] for r in learned.run_dirs]
    assert len(accuracy) == 2 and accuracy[1] > accuracy[0], accuracy
