"""Deep taxonomies: Google's and Shopify's line formats, told by content, subtree roots, node lookup, errors."""

from pathlib import Path

import pytest

from assign_cat.taxonomy import DeepTaxonomy, detect_format, load_deep, load_taxonomy
from labnb.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
TAXONOMIES = ROOT.parent / "shared" / "data" / "taxonomies"
GID = "gid://shopify/TaxonomyCategory/"

GOOGLE = """# Google_Product_Taxonomy_Version: 2021-09-21
1 - Health & Beauty
2 - Health & Beauty > Health Care
3 - Health & Beauty > Health Care > Fitness & Nutrition
4 - Health & Beauty > Health Care > Fitness & Nutrition > Vitamins & Supplements
5 - Health & Beauty > Personal Care
6 - Sporting Goods
"""
SHOPIFY = f"""# Shopify Product Taxonomy - Categories: 2025-08-unstable
# Format: {{GID}} : {{Ancestor name}} > ... > {{Category name}}

{GID}hb         : Health & Beauty
{GID}hb-1-9-6   : Health & Beauty > Health Care > Fitness & Nutrition > Vitamins & Supplements
{GID}hb-1       : Health & Beauty > Health Care
{GID}hb-1-9     : Health & Beauty > Health Care > Fitness & Nutrition
{GID}hb-1-9-6-3 : Health & Beauty > Health Care > Fitness & Nutrition > Vitamins & Supplements > Creatine
"""


def write(tmp_path, text, name="taxonomy.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_google_nodes_have_ids_names_paths_parents_and_depths(tmp_path):
    tax = load_deep(write(tmp_path, GOOGLE))
    assert (tax.name, tax.version, tax.format) == ("google-product-taxonomy", "2021-09-21", "google")
    assert [n.id for n in tax.nodes] == ["1", "2", "3", "4", "5", "6"]
    node = tax.node("4")
    assert (node.name, node.path_text, node.parent, node.depth, node.lineage, node.line) == (
        "Vitamins & Supplements", "Health & Beauty > Health Care > Fitness & Nutrition > Vitamins & Supplements",
        "3", 4, ("1", "2", "3", "4"), 5)
    assert tax.node("1").parent is None
    assert [n.id for n in tax.assignable] == ["1", "2", "3", "4", "5", "6"]
    assert [n.id for n in tax.restrict(leaves_only=True).assignable] == ["4", "5", "6"]


def test_shopify_is_read_with_parents_listed_after_children(tmp_path):
    tax = load_deep(write(tmp_path, SHOPIFY, "categories.txt"))
    assert (tax.name, tax.version, tax.format) == ("shopify-product-taxonomy", "2025-08-unstable", "shopify")
    creatine = tax.node(GID + "hb-1-9-6-3")
    assert creatine.lineage == tuple(GID + s for s in ("hb", "hb-1", "hb-1-9", "hb-1-9-6", "hb-1-9-6-3"))
    assert creatine.depth == 5 and creatine.parent == GID + "hb-1-9-6"
    assert tax.find("hb-1-9-6-3") is creatine  # the short form of a gid
    assert tax.max_depth == 5


def test_format_is_told_by_content_not_by_name(tmp_path):
    assert detect_format(write(tmp_path, GOOGLE, "taxonomy.xml")) == "google"
    assert detect_format(write(tmp_path, "\ufeff" + SHOPIFY, "google.txt")) == "shopify"
    assert detect_format(ROOT / "config" / "taxonomy.xml") == "xml"


def test_two_level_xml_maps_to_level_1_categories_and_level_2_subcategories():
    xml = load_taxonomy(ROOT / "config" / "taxonomy.xml")
    tax = load_deep(ROOT / "config" / "taxonomy.xml")
    assert (tax.name, tax.version, tax.format) == (xml.name, xml.version, "xml")
    subs = [(c, s) for c in xml.categories for s in c.subcategories]
    assert [n.id for n in tax.assignable] == [f"{c.id}/{s.id}" for c, s in subs]
    assert [(tax.top_level(n).id, n.file_id) for n in tax.assignable] == [(c.id, s.id) for c, s in subs]
    node = tax.assignable[0]
    assert (node.depth, node.path, node.description) == (2, (subs[0][0].name, subs[0][1].name), subs[0][1].description)


def test_subtree_root_limits_assignable_nodes_and_sets_the_top_level(tmp_path):
    tax = load_deep(write(tmp_path, GOOGLE)).restrict("health & beauty > health care")
    assert tax.root.id == "2"
    assert [n.id for n in tax.assignable] == ["3", "4"]  # never the root, never outside it
    assert [tax.top_level(n).id for n in tax.assignable] == ["3", "3"]
    assert tax.below_root(tax.node("4")) == ("3", "4")
    assert tax.below_root(tax.node("5")) == ("1", "5")  # outside: its whole lineage
    assert tax.max_depth == 2
    assert [n.id for n in load_deep(write(tmp_path, GOOGLE)).restrict("1", leaves_only=True).assignable] == ["4", "5"]


@pytest.mark.parametrize("text, expected", [
    ("4", "4"),
    ("Health & Beauty > Health Care > Fitness & Nutrition > Vitamins & Supplements", "4"),
    ("Health & Beauty>Health Care >  Fitness & Nutrition", "3"),
    ("HEALTH & BEAUTY > personal care", "5"),
    ("Vitamins & Supplements", None),
    ("Health & Beauty > Nope", None),
])
def test_nodes_are_found_by_id_or_full_path(tmp_path, text, expected):
    found = load_deep(write(tmp_path, GOOGLE)).find(text)
    assert (found.id if found else None) == expected


def test_exact_name_wins_over_a_case_insensitive_one(tmp_path):
    tax = load_deep(write(tmp_path, "1 - Tools\n2 - Tools > saws\n3 - Tools > Saws\n"))
    assert tax.find("Tools > Saws").id == "3" and tax.find("Tools > saws").id == "2"
    assert tax.find("TOOLS > SAWS").id == "2"  # then the first in file order


@pytest.mark.parametrize("text, message", [
    ("1 - A\n2 - A > B\n2 - A > C\n", "line 3: duplicate id '2' (first at line 2)"),
    ("1 - A\n2 - A > B\n3 - A > B\n", "line 3: duplicate path 'A > B' (first at line 2)"),
    ("1 - A\n2 - A > B\n3 - A > \u200bB\n", "line 3: duplicate path 'A > \\u200bB' (first at line 2)"),
    ("1 - A\n\n3 - A > B > C\n", "line 3: parent 'A > B' of 'C' is not in the file"),
    ("1 - A\n2 A > B\n", "line 2: not in Google's taxonomy-with-ids format 'id - A > B > C': '2 A > B'"),
    ("1 - A\n2 - A >  > B\n", "line 2: empty name in path 'A >  > B'"),
    (f"{GID}a : A\n{GID}a-1 = A > B\n", f"line 2: not in Shopify's categories.txt format '{GID}<id> : A > B > C'"),
    ("# only a comment\n\n", "no taxonomy nodes in the file"),
    ("# header\nA > B > C\n", "line 2: not a taxonomy format this tool reads: expected the project's XML; "
                              "Google's taxonomy-with-ids 'id - A > B > C'; Shopify's categories.txt"),
])
def test_malformed_files_are_one_line_errors_naming_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        load_deep(path)
    assert str(exc.value).startswith(f"{path}: {message}")
    assert "\n" not in str(exc.value)


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"1 - A\n2 - A > Caf\xe9\n")
    with pytest.raises(InputError, match=r"t.txt: line 2: not UTF-8 \(byte 0xe9\)"):
        load_deep(path)


@pytest.mark.parametrize("root, message", [
    ("Nope", "--taxonomy-root 'Nope': no such node in taxonomy 'google-product-taxonomy'"),
    ("6", "--taxonomy-root '6': the node has nothing under it"),
])
def test_bad_roots_are_one_line_errors(tmp_path, root, message):
    with pytest.raises(InputError, match=f"^{message}$"):
        load_deep(write(tmp_path, GOOGLE)).restrict(root)


def _published(name: str) -> DeepTaxonomy:
    if not TAXONOMIES.is_dir():
        pytest.skip(f"needs the published Google and Shopify files in {TAXONOMIES}, which live beside the project "
                    "and are not part of a clone; the hand-written files above test the same parsers")
    return load_deep(TAXONOMIES / name)


def test_the_published_google_file_at_full_size():
    tax = _published("google-product-taxonomy-2021-09-21.txt")
    assert (len(tax.nodes), tax.max_depth, tax.version) == (5595, 7, "2021-09-21")
    assert tax.node("525").path_text == "Health & Beauty > Health Care > Fitness & Nutrition > Vitamins & Supplements"
    assert len(tax.restrict(leaves_only=True).assignable) == 4719
    sub = tax.restrict("Health & Beauty > Health Care > Fitness & Nutrition")
    assert [n.id for n in sub.assignable] == ["2984", "5702", "6242", "6871", "7413", "525"]


def test_the_published_shopify_file_at_full_size():
    tax = _published("shopify-product-taxonomy-2025-08.txt")
    assert (len(tax.nodes), tax.max_depth, tax.version) == (10595, 8, "2025-08-unstable")
    sub = tax.restrict("Health & Beauty > Health Care > Fitness & Nutrition > Vitamins & Supplements")
    assert [n.name for n in sub.assignable][:3] == ["Amino Acids", "CBD Supplements", "Collagen"]
    assert len(sub.assignable) == 10
