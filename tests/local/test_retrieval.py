"""Candidate retrieval with the real local model: exact shortlists, roots, and the on-disk cache."""

import numpy as np
import pytest

from assign_cat.candidates import CandidateFinder, file_sha256, node_text
from assign_cat.products import Product
from assign_cat.taxonomy import load_deep
from labnb.local.embedder import load_embedder
from labnb.local.retrieval import RetrievalIndex, cache_key, default_cache_dir

SMALL = """1 - Health & Beauty
2 - Health & Beauty > Vitamins & Supplements
3 - Health & Beauty > Vitamins & Supplements > Protein Powders
4 - Health & Beauty > Vitamins & Supplements > Fish Oil
5 - Health & Beauty > Vitamins & Supplements > Multivitamins
6 - Health & Beauty > Skin Care
7 - Health & Beauty > Skin Care > Sunscreen
8 - Sporting Goods
9 - Sporting Goods > Dumbbells
10 - Sporting Goods > Yoga Mats
"""
PRODUCTS = [
    Product("w", "Whey Protein Isolate Powder, Chocolate", extra={"brand": "Optimum Nutrition"}),
    Product("f", "Omega-3 Fish Oil 1000 mg Softgels"),
    Product("s", "SPF 50 Sunscreen Lotion"),
    Product("d", "Adjustable Dumbbell Set, 2 x 24 kg"),
]


@pytest.fixture(scope="module")
def embedder():
    return load_embedder()


@pytest.fixture
def tax_file(tmp_path):
    path = tmp_path / "small.txt"
    path.write_text(SMALL)
    return path


def finder(embedder, path, cache, root=None, leaves_only=True):
    tax = load_deep(path).restrict(root, leaves_only=leaves_only)
    return CandidateFinder(embedder, tax, file_sha256(path), cache_dir=cache)


def test_the_shortlist_is_exact_for_known_products(embedder, tax_file, tmp_path):
    found = finder(embedder, tax_file, tmp_path / "cache")
    assert found.needed(3) and not found.needed(6)
    lists = found.shortlist(PRODUCTS, 3)
    assert {pid: c.node_ids for pid, c in lists.items()} == {
        "w": ("3", "5", "4"), "f": ("4", "5", "3"), "s": ("7", "10", "4"), "d": ("9", "10", "3"),
    }
    assert all(list(c.scores) == sorted(c.scores, reverse=True) for c in lists.values())


def test_candidates_never_come_from_outside_the_root(embedder, tax_file, tmp_path):
    found = finder(embedder, tax_file, tmp_path / "cache", root="Health & Beauty > Vitamins & Supplements")
    assert not found.needed(3)
    lists = found.shortlist(PRODUCTS, 30)  # more than there are: every assignable node, best first
    assert {pid: c.node_ids for pid, c in lists.items()} == {
        "w": ("3", "5", "4"), "f": ("4", "5", "3"), "s": ("4", "3", "5"), "d": ("3", "5", "4"),
    }


def test_the_cache_is_reused_and_invalidated_when_the_taxonomy_changes(embedder, tax_file, tmp_path):
    cache = tmp_path / "cache"
    first = finder(embedder, tax_file, cache)
    assert not first.index.cache_hit and first.index.cache_path.parent == cache
    written = first.index.cache_path.stat().st_mtime_ns
    again = finder(embedder, tax_file, cache, root="Sporting Goods", leaves_only=False)  # the same file
    assert again.index.cache_hit and again.index.cache_path == first.index.cache_path
    assert again.index.cache_path.stat().st_mtime_ns == written
    assert np.array_equal(again.index.vectors, first.index.vectors)
    tax_file.write_text(SMALL + "11 - Sporting Goods > Kettlebells\n")
    changed = finder(embedder, tax_file, cache)
    assert not changed.index.cache_hit and changed.index.cache_path != first.index.cache_path
    assert changed.shortlist(PRODUCTS[3:], 2)["d"].node_ids == ("9", "11")
    assert sorted(p.suffix for p in cache.iterdir()) == [".json", ".json", ".npy", ".npy"]


def test_a_damaged_or_deleted_cache_is_rebuilt(embedder, tax_file, tmp_path):
    cache = tmp_path / "cache"
    first = finder(embedder, tax_file, cache)
    first.index.cache_path.write_bytes(b"\x93NUMPY cut short")
    rebuilt = finder(embedder, tax_file, cache)
    assert not rebuilt.index.cache_hit and np.array_equal(rebuilt.index.vectors, first.index.vectors)
    for path in cache.iterdir():
        path.unlink()
    cache.rmdir()
    assert not finder(embedder, tax_file, cache).index.cache_hit


def test_the_cache_key_covers_source_model_and_texts(embedder, tax_file):
    texts = [node_text(n) for n in load_deep(tax_file).nodes]
    key = cache_key(embedder, texts, "taxonomy-sha256=a")
    assert key != cache_key(embedder, texts, "taxonomy-sha256=b")
    assert key != cache_key(embedder, [*texts[:-1], "Kettlebells"], "taxonomy-sha256=a")
    assert len(key) == 64


def test_context_adds_the_mean_of_the_ancestors(embedder, tmp_path):
    raw = embedder.encode(["Vitamins", "Fish Oil", "Sunscreen"])
    index = RetrievalIndex(embedder, ["Vitamins", "Fish Oil", "Sunscreen"], raw, context=[[], [0], [0, 1]],
                           context_weight=0.5)
    centred = raw - raw.mean(axis=0)
    centred /= np.linalg.norm(centred, axis=1, keepdims=True)
    expected = centred + 0.5 * np.stack([np.zeros_like(centred[0]), centred[0], centred[:2].mean(axis=0)])
    assert np.allclose(index.vectors, expected, atol=1e-6)


def test_the_default_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("LABNB_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path / "embeddings"
    monkeypatch.delenv("LABNB_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "labnb" / "embeddings"
