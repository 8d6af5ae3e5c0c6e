"""Gold labels as ids, names (exact, then any case) or 'Category > Subcategory' paths."""

from __future__ import annotations

import pytest

from assign_cat.gold import resolve_gold
from assign_cat.products import Product
from assign_cat.taxonomy import Category, Subcategory, Taxonomy

TAXONOMY = Taxonomy("t", "1", (
    Category("protein", "Protein", "", (Subcategory("whey", "Whey Protein"), Subcategory("vegan", "Plant Protein"))),
    Category("vitamins", "Vitamins", "", (Subcategory("c", "Vitamin C"), Subcategory("mixed", "Multi"))),
    Category("minerals", "Minerals", "", (Subcategory("mixed", "Multi"),)),
))


@pytest.mark.parametrize("category, subcategory, expected", [
    ("protein", "whey", ("protein", "whey")),
    ("Protein", "Whey Protein", ("protein", "whey")),
    ("PROTEIN", "whey protein", ("protein", "whey")),
    ("", "Protein > Plant Protein", ("protein", "vegan")),
    ("protein", "Protein > Plant Protein", ("protein", "vegan")),
    ("vitamins > vitamin c", "", ("vitamins", "c")),
    ("", "Vitamin C", ("vitamins", "c")),  # a subcategory name unique in the taxonomy gives its category
    ("Minerals", "Multi", ("minerals", "mixed")),
    ("Vitamins", "", ("vitamins", "")),
])
def test_labels_that_name_a_label_resolve_to_ids(category, subcategory, expected):
    result = resolve_gold([Product("p1", "T", expected_category=category, expected_subcategory=subcategory)],
                          TAXONOMY)
    [product] = result.products
    assert (product.expected_category, product.expected_subcategory) == expected
    assert result.unmatched == 0 and result.by_id + result.by_name == 1
    assert result.by_name == (category != expected[0] or subcategory != expected[1])


@pytest.mark.parametrize("category, subcategory", [
    ("", "Multi"),  # in two categories: never guessed
    ("Protein", "Vitamin C"), ("Drinks", "Whey Protein"), ("", "Protein > Whey > Isolate"),
    ("vitamins", "Protein > Whey Protein"), ("Protein > Whey Protein", "whey"), ("", "nope"),
])
def test_labels_that_match_nothing_are_kept_and_counted(category, subcategory):
    products = [Product("p1", "T", expected_category=category, expected_subcategory=subcategory), Product("p2", "U")]
    result = resolve_gold(products, TAXONOMY)
    assert result.products == products and result.unmatched == 1 and result.first_unmatched is products[0]
    assert result.by_id == result.by_name == 0
