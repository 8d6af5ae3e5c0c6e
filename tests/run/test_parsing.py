"""Answer validation: matched by number, subcategory numbers mapped to pairs, unknown ones kept (never fixed)."""

from pathlib import Path

import pytest

from assign_cat.products import Product
from assign_cat.task import AssignCat
from assign_cat.taxonomy import load_taxonomy
from labnb.answers import answer_schema
from labnb.answers.parsing import parse_answer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy(ROOT / "config" / "taxonomy.xml")


@pytest.fixture(scope="module")
def code(taxonomy):
    numbers = {sub: k for k, (_, sub) in taxonomy.codes.items()}
    return numbers.__getitem__


def pair(result):
    return result.answer.get("category", ""), result.answer.get("subcategory", "")


def parse(data, products, taxonomy):
    task = AssignCat(taxonomy)
    return parse_answer(data, products, task.choices(), item_noun="product", choice_noun="subcategory",
                        source="the taxonomy")


PRODUCTS = [Product("a", "Echinacea Tincture"), Product("b", "Whey Isolate"), Product("c", "Melatonin 3 mg")]


def test_subcategory_numbers_follow_document_order(taxonomy):
    codes = taxonomy.codes
    pairs = [(c.id, s.id) for c in taxonomy.categories for s in c.subcategories]
    assert list(codes) == list(range(1, len(pairs) + 1)) and list(codes.values()) == pairs
    assert set(codes.values()) == taxonomy.pairs  # every number is a valid pair, every pair has a number


def test_answers_are_matched_by_number_not_position(taxonomy, code):
    data = {"r": [{"n": 3, "k": code("melatonin")}, {"n": 1, "k": code("daily-immune")},
                  {"n": 2, "k": code("whey-protein")}]}
    parsed = parse(data, PRODUCTS, taxonomy)
    assert parsed.problem == "" and parsed.missing == []
    got = {pid: (*pair(r), r.status) for pid, r in parsed.results.items()}
    assert got == {"a": ("immune-support", "daily-immune", "ok"), "b": ("sports-nutrition", "whey-protein", "ok"),
                   "c": ("sleep-stress-mood", "melatonin", "ok")}
    assert parsed.results["c"].raw_response == f'{{"n":3,"k":{code("melatonin")}}}'


def test_an_unknown_number_is_kept_as_invalid_not_fixed(taxonomy, code):
    data = {"r": [{"n": 1, "k": 999}, {"n": 2, "k": "12"}]}
    parsed = parse(data, PRODUCTS[:2], taxonomy)
    a, b = parsed.results["a"], parsed.results["b"]
    assert (*pair(a), a.status, a.error_type) == ("", "", "invalid", "invalid_label")
    assert a.raw_response == '{"n":1,"k":999}' and "k=999 is not a subcategory number" in a.error
    assert (b.status, b.answer["subcategory"]) == ("ok", taxonomy.codes[12][1])  # "12" is read as 12
    assert parsed.problem == ""


def test_missing_products_and_shape_problems(taxonomy, code):
    parsed = parse({"r": [{"n": 2, "k": code("whey-protein")}]}, PRODUCTS, taxonomy)
    assert [p.product_id for p in parsed.missing] == ["a", "c"] and parsed.problem == ""
    for data in (None, [], {"results": []}, {"r": "x"}):
        assert "must be a JSON object" in parse(data, PRODUCTS, taxonomy).problem
    bad = parse({"r": [{"n": 9, "k": 1}, {"n": 1, "k": "x"}, "x"]}, PRODUCTS, taxonomy)
    assert bad.problem == ("n must be a product number from 1 to 3, got 9; entry n=1 needs an integer subcategory "
                           "number k, got 'x'; every entry of r must be an object")
    twice = parse({"r": [{"n": 1, "k": 1}] * 2}, PRODUCTS[:1], taxonomy)
    assert twice.problem == "product 1 is answered twice" and twice.results["a"].status == "ok"


def test_schema_enum_is_the_subcategory_numbers_and_the_prefix_is_stable(taxonomy):
    schema = answer_schema(taxonomy.codes)
    item = schema["properties"]["r"]["items"]
    assert item["properties"]["k"] == {"type": "integer", "enum": list(range(1, len(taxonomy.pairs) + 1))}
    assert item["required"] == ["n", "k"] and item["additionalProperties"] is False
    task = AssignCat(taxonomy)
    system = task.render_system()
    assert system == AssignCat(taxonomy).render_system()
    first = taxonomy.categories[0]
    assert f"\n{first.name} - {first.description}\n  1: {first.subcategories[0].name} - " in system
    user = task.render_user([Product("x", "Fish Oil", "Omega\n3", extra={"brand": "Nordic"})])
    assert user == "Classify this product:\n1. Fish Oil | description: Omega 3 | brand: Nordic"
    codes = task.prompt_templates()["label_codes"]
    assert codes["1"] == [first.id, first.subcategories[0].id] and len(codes) == len(taxonomy.pairs)
