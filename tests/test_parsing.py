"""Answer validation: matched by number, invalid pairs kept (never fixed), problems reported."""

from pathlib import Path

import pytest

from assign_cat import prompts
from assign_cat.parsing import parse_answer
from assign_cat.products import Product
from assign_cat.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy(ROOT / "config" / "taxonomy.xml")


PRODUCTS = [Product("a", "Echinacea Tincture"), Product("b", "Whey Isolate"), Product("c", "Melatonin 3 mg")]


def test_answers_are_matched_by_number_not_position(taxonomy):
    data = {"r": [{"n": 3, "c": "sleep-stress-mood", "s": "melatonin"},
                  {"n": 1, "c": "immune-support", "s": "daily-immune"},
                  {"n": 2, "c": "sports-nutrition", "s": "whey-protein"}]}
    parsed = parse_answer(data, PRODUCTS, taxonomy)
    assert parsed.problem == "" and parsed.missing == []
    got = {pid: (r.category, r.subcategory, r.status) for pid, r in parsed.results.items()}
    assert got == {"a": ("immune-support", "daily-immune", "ok"), "b": ("sports-nutrition", "whey-protein", "ok"),
                   "c": ("sleep-stress-mood", "melatonin", "ok")}
    assert parsed.results["c"].raw_response == '{"n":3,"c":"sleep-stress-mood","s":"melatonin"}'


def test_invalid_pair_is_kept_as_invalid_not_fixed(taxonomy):
    data = {"r": [{"n": 1, "c": "immune-support", "s": "melatonin"}, {"n": 2, "c": "made-up", "s": "x"}]}
    parsed = parse_answer(data, PRODUCTS[:2], taxonomy)
    a, b = parsed.results["a"], parsed.results["b"]
    assert (a.category, a.subcategory, a.status, a.error_type) == ("immune-support", "melatonin", "invalid",
                                                                   "invalid_label")
    assert (b.category, b.subcategory, b.status) == ("made-up", "x", "invalid")
    assert parsed.problem == ""


def test_missing_products_and_shape_problems(taxonomy):
    parsed = parse_answer({"r": [{"n": 2, "c": "sports-nutrition", "s": "whey-protein"}]}, PRODUCTS, taxonomy)
    assert [p.product_id for p in parsed.missing] == ["a", "c"] and parsed.problem == ""
    for data in (None, [], {"results": []}, {"r": "x"}):
        assert "must be a JSON object" in parse_answer(data, PRODUCTS, taxonomy).problem
    bad = parse_answer({"r": [{"n": 9, "c": "a", "s": "b"}, {"n": 1, "c": 5, "s": "b"}, "x"]}, PRODUCTS, taxonomy)
    assert bad.problem == ("n must be a product number from 1 to 3, got 9; entry n=1 needs string fields c and s; "
                           "every entry of r must be an object")
    twice = parse_answer({"r": [{"n": 1, "c": "immune-support", "s": "daily-immune"}] * 2}, PRODUCTS[:1], taxonomy)
    assert twice.problem == "product 1 is answered twice" and twice.results["a"].status == "ok"


def test_schema_enums_are_the_taxonomy_ids_and_prefix_is_stable(taxonomy):
    schema = prompts.answer_schema(taxonomy)
    item = schema["properties"]["r"]["items"]
    assert item["properties"]["c"]["enum"] == taxonomy.category_ids
    assert item["properties"]["s"]["enum"] == taxonomy.subcategory_ids
    assert item["required"] == ["n", "c", "s"] and item["additionalProperties"] is False
    assert prompts.render_system(taxonomy) == prompts.render_system(taxonomy)
    user = prompts.render_user([Product("x", "Fish Oil", "Omega\n3", extra={"brand": "Nordic"})])
    assert user == "Classify these 1 products:\n1. Fish Oil | description: Omega 3 | brand: Nordic"
