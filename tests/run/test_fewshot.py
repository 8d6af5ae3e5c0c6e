"""Few-shot selection: exact examples for known items (knn, fixed, random) and the leakage guard."""

from __future__ import annotations

import pytest

from assign_cat.task import AssignCat
from conftest import ROOT
from labnb.errors import InputError, UsageError
from labnb.fewshot import Example, ExampleSet, ShotSelector, ShotSettings
from labnb.local.embedder import load_embedder
from labnb.prompting.setup import load_examples

TASK = AssignCat(ROOT / "config" / "taxonomy.xml")
SAMPLE = load_examples(TASK, ROOT / "data" / "sample_products.csv")
ITEMS = [(e.id, e.text) for e in SAMPLE.examples[:3]]  # sp-001 multivitamin, sp-002 and sp-003 vitamin D3
POOL = SAMPLE.examples[10:40]  # sp-011 … sp-040
# Planted overlaps: sp-002 by id (other text), sp-001 by text (other case and spacing, other id).
PLANTED = (Example("sp-002", "Omega-3 Fish Oil", "omega-3/fish-oil"),
           Example("x-1", "  complete ADULT multivitamin &  Multimineral, once daily, 90 tablets",
                   "vitamins/multivitamins"))


def selector(method: str, shots: int, examples=POOL, seed: int = 0) -> ShotSelector:
    encode = load_embedder().encode if method == "knn" else None
    return ShotSelector(ExampleSet(tuple(examples)), ShotSettings(shots, method, seed), encode=encode)


def ids(examples) -> list[str]:
    return [e.id for e in examples]


def test_knn_shows_the_union_of_each_items_nearest_examples():
    knn = selector("knn", 2)
    assert [ids(knn.for_batch([item])) for item in ITEMS] == [["sp-036", "sp-012"], ["sp-035", "sp-036"],
                                                             ["sp-028", "sp-011"]]
    assert ids(knn.for_batch(ITEMS)) == ["sp-036", "sp-012", "sp-035", "sp-028", "sp-011"]
    assert knn.fixed(ITEMS) == []


def test_leakage_guard_never_shows_an_overlapping_example():
    knn = selector("knn", 2, examples=PLANTED + POOL)
    leakage = knn.leakage(ITEMS)
    assert leakage.record() == {"overlapping_pairs": 2, "overlapping_items": 2,
                                "overlapping_item_ids": ["sp-001", "sp-002"]}
    # The planted text twin would be sp-001's nearest example; the id twin is banned from sp-002's request.
    assert ids(knn.for_batch(ITEMS[:1])) == ["sp-036", "sp-012"]
    assert "sp-002" not in ids(knn.for_batch(ITEMS[1:2]))
    assert ids(knn.for_batch(ITEMS[2:])) == ["sp-028", "sp-011"]
    # Without an overlap, the text twin is the nearest example indeed.
    assert ids(knn.for_batch([("new", "Complete Adult Multivitamin, 90 Tablets")])) == ["x-1", "sp-036"]


def test_fixed_takes_the_first_k_that_overlap_no_item_of_the_run():
    fixed = selector("fixed", 3, examples=PLANTED + POOL)
    assert ids(fixed.fixed(ITEMS)) == ["sp-011", "sp-012", "sp-013"]
    assert ids(fixed.fixed(ITEMS[2:])) == ["sp-002", "x-1", "sp-011"]
    assert fixed.for_batch(ITEMS) == []


def test_random_is_seeded_per_request_and_guarded():
    draw = selector("random", 4, examples=PLANTED + POOL, seed=7)
    first = ids(draw.for_batch(ITEMS))
    assert first == ids(selector("random", 4, examples=PLANTED + POOL, seed=7).for_batch(ITEMS))
    assert len(set(first)) == 4 and not {"sp-002", "x-1"} & set(first)
    others = {tuple(ids(selector("random", 4, examples=PLANTED + POOL, seed=s).for_batch(ITEMS))) for s in range(5)}
    assert len(others) == 5


def test_bad_settings_and_examples_files(tmp_path):
    with pytest.raises(UsageError, match="unknown method 'nearest'"):
        ShotSettings(3, "nearest")
    path = tmp_path / "ex.csv"
    path.write_text("product_id,title,expected_category,expected_subcategory\na,Zinc,vitamins,zinc-x\n")
    with pytest.raises(InputError) as caught:
        load_examples(TASK, path)
    assert str(caught.value) == f"{path}: example 1 ('a') has no gold label of the taxonomy; every example needs one"
