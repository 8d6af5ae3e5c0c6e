"""The learner's lexical features: what they add over embeddings, how they are recorded, and a replay that
rebuilds the same model bit for bit."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from assign_cat.products import load_products
from labnb.local.features import LexicalFeatures
from labnb.local.learner import LearnerSettings, fit_learner
from local.test_local_learning import split

# Two made-up brands, one per label: a sentence embedding knows neither word, TF-IDF n-grams see them at once.
BRANDS = {"Zorvexa": 0, "Quillbrook": 1}
KINDS = ["Protein Bar", "Energy Gel", "Vitamin Drink", "Oat Snack", "Whey Isolate", "Creatine Powder", "Fish Oil",
         "Magnesium Tablets", "Green Tea Extract", "Collagen Peptides", "Electrolyte Tabs", "Recovery Shake"]


def brand_set(kinds):
    texts = [f"{brand} {kind}" for kind in kinds for brand in BRANDS]
    return texts, np.array([BRANDS[t.split()[0]] for t in texts])


def test_lexical_features_learn_what_embeddings_blur():
    train_texts, train_labels = brand_set(KINDS[:10])
    test_texts, test_labels = brand_set(KINDS[10:])
    rng = np.random.RandomState(0)  # unit vectors that carry no brand information at all
    vectors, queries = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in (
        rng.normal(size=(len(train_texts), 8)), rng.normal(size=(len(test_texts), 8))))
    flat = np.full((len(train_texts), 2), 0.5)
    lexical = fit_learner(vectors, train_labels, flat, texts=train_texts)
    plain = fit_learner(vectors, train_labels, flat, LearnerSettings(lexical=False))
    predicted = lexical.predict(queries, np.full((len(test_texts), 2), 0.5), test_texts).argmax(axis=1)
    assert predicted.tolist() == test_labels.tolist()
    assert (plain.predict(queries, np.full((len(test_texts), 2), 0.5)).argmax(axis=1) != test_labels).any()
    with pytest.raises(ValueError, match="reads the items' texts too"):
        lexical.predict(queries, np.full((len(test_texts), 2), 0.5))


def test_the_record_names_each_block_its_vocabulary_size_and_sha256():
    texts = ["Whey Protein 2 lb", "Creatine 500 g", "Whey Isolate 5 lb"]
    record = LexicalFeatures.fit(texts).record(384)
    word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b").fit(texts)
    terms = sorted(word.vocabulary_, key=word.vocabulary_.get)
    # One-character words count: sklearn's default pattern would drop the "2" of "2 lb" and the "g" of "500 g".
    assert terms == ["2", "2 lb", "5", "5 lb", "500", "500 g", "creatine", "creatine 500", "g", "isolate",
                     "isolate 5", "lb", "protein", "protein 2", "whey", "whey isolate", "whey protein"]
    digest = hashlib.sha256(json.dumps(terms).encode())
    digest.update(word.idf_.astype("<f8").tobytes())
    assert record["word_tfidf"] == {"kind": "TF-IDF word n-grams", "ngram_range": [1, 2], "sublinear_tf": True,
                                    "lowercase": True, "token_pattern": r"(?u)\b\w+\b", "vocabulary_size": 17,
                                    "sha256": digest.hexdigest(),
                                    "fitted_on": "the example texts"}
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit(texts)
    assert record["char_tfidf"]["vocabulary_size"] == len(char.vocabulary_) == 78
    assert record["embedding"] == {"kind": "sentence embedding", "size": 384, "weight": 1.0}


def test_a_replay_rebuilds_the_same_model_bit_for_bit_and_the_record_says_what_learned(cli, tmp_path):
    examples, products = split(tmp_path)
    first = cli("--model", "local", "--input", str(products), "--examples", str(examples))
    assert first.code == 0, first.err
    run = first.run_dir
    replay = cli("--replay", str(run))
    assert replay.code == 0, replay.err
    again = next(d for d in replay.run_dirs if d != run)
    templates = [json.loads((d / "inputs" / "prompt_templates.json").read_text())["learning"] for d in (run, again)]
    learned = json.loads((run / "config" / "system_info.json").read_text())["model"]["learning"]
    assert templates[0] == templates[1] and templates[0]["model_sha256"] == learned["model_sha256"]
    assert set(templates[0]["features"]) == {"embedding", "word_tfidf", "char_tfidf"}
    assert templates[0]["model_reads"] == learned["model_reads"]
    expected = LexicalFeatures.fit([p.text for p in load_products(examples)]).record(384)
    assert templates[0]["features"] == expected == learned["features"]
    assert templates[0]["examples"] == 60
    tables = [pd.read_csv(d / "outputs" / "classifications.csv", keep_default_na=False) for d in (run, again)]
    assert tables[0]["product_id"].tolist() == tables[1]["product_id"].tolist() and len(tables[0]) == 26
    assert np.abs(tables[0]["confidence"].to_numpy() - tables[1]["confidence"].to_numpy()).max() <= 1e-9
    for one, two in zip(tables[0]["raw_response"], tables[1]["raw_response"]):
        assert json.loads(one) == json.loads(two)
    assert json.loads((again / "config" / "run_config.json").read_text())["replay_of"]
