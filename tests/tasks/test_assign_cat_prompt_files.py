"""assign-cat's prompts live only in its prompt files (src/assign_cat/prompts/): the built-in prompts rendered
from them are byte for byte the prompts the Python templates rendered before the files became the only source
(tests/tasks/data/assign_cat_prompts.json, rendered by that code at commit c48628f)."""

from __future__ import annotations

import json
from pathlib import Path

from assign_cat.candidates import Candidates
from assign_cat.deep_task import DeepAssignCat
from assign_cat.inputs import AssignCatOptions
from assign_cat.products import Product, load_products
from assign_cat.task import AssignCat
from conftest import ROOT
from local.test_retrieval import SMALL
from tasks.test_deep_taxonomy import SHOPIFY

GOLDEN = json.loads((Path(__file__).parent / "data" / "assign_cat_prompts.json").read_text(encoding="utf-8"))
SAMPLE = load_products(ROOT / "data" / "sample_products.csv")
ODD = [Product("x", "Fish Oil", "Omega\n3", extra={"brand": "Nordic"}),
       Product("y", "T" * 400, "d " * 300, extra={"a": "b" * 500, "empty": ""}),
       Product("z", "  spaced   title  ", "")]
SMALL_PRODUCTS = [Product("w", "Whey Protein Isolate Powder, Chocolate", extra={"brand": "Optimum Nutrition"}),
                  Product("f", "Omega-3 Fish Oil 1000 mg Softgels"), Product("s", "SPF 50 Sunscreen Lotion"),
                  Product("d", "Adjustable Dumbbell Set, 2 x 24 kg")]
SHORTLISTS = {"w": ["3", "5", "4"], "f": ["4", "5", "3"], "s": ["7", "10", "4"], "d": ["9", "10", "3"]}
DEEP_CASES = [("all", None, False, 50), ("leaves", None, True, 50), ("root", "Health & Beauty", False, 50),
              ("per-request", None, True, 3), ("root-per-request", "Health & Beauty", True, 2)]


def two_level_prompts() -> dict[str, str]:
    task = AssignCat(ROOT / "config" / "taxonomy.xml")
    out = {f"two-level/system/explain={explain}": task.render_system(explain=explain) for explain in (False, True)}
    out.update({f"two-level/user/sample[:{size}]": task.render_user(SAMPLE[:size]) for size in (1, 2, 7, len(SAMPLE))})
    out.update({"two-level/user/odd": task.render_user(ODD), "two-level/user/odd[:1]": task.render_user(ODD[:1])})
    return out


def deep_task(path: Path, **options) -> DeepAssignCat:
    task = DeepAssignCat()
    task.use_taxonomy(path, AssignCatOptions(taxonomy=str(path), **options))
    return task


def deep_prompts(tmp_path: Path) -> dict[str, str]:
    small, shop = tmp_path / "small.txt", tmp_path / "categories.txt"
    small.write_text(SMALL)
    shop.write_text(SHOPIFY)
    out = {}
    for name, root, leaves, k in DEEP_CASES:
        task = deep_task(small, taxonomy_root=root, leaves_only=leaves, candidates=k)
        labels = task.labels
        if labels.retrieves:  # the shortlists the embedding model would give, fixed here
            labels.shortlists = {p: Candidates(tuple(i for i in ids if i in labels.code_of)[:k]
                                               or (next(iter(labels.code_of)),), ()) for p, ids in SHORTLISTS.items()}
        out.update({f"deep/{name}/system/explain={explain}": task.render_system(explain=explain)
                    for explain in (False, True)})
        out.update({f"deep/{name}/user/[:{size}]": task.render_user(SMALL_PRODUCTS[:size]) for size in (1, 2, 4)})
    xml = deep_task(ROOT / "config" / "taxonomy.xml", candidates=100)
    out.update({f"deep/xml/system/explain={explain}": xml.render_system(explain=explain) for explain in (False, True)})
    shopify = deep_task(shop, candidates=100)
    out.update({"deep/shopify/system/explain=False": shopify.render_system(),
                "deep/shopify/user/[:2]": shopify.render_user(SMALL_PRODUCTS[:2])})
    return out


def test_the_two_level_prompt_file_renders_the_pinned_prompts_byte_for_byte():
    rendered = two_level_prompts()
    assert rendered == {key: text for key, text in GOLDEN.items() if key.startswith("two-level/")}
    assert len(rendered) == 8


def test_the_deep_prompt_file_renders_the_pinned_prompts_byte_for_byte(tmp_path):
    rendered = deep_prompts(tmp_path)
    assert rendered == {key: text for key, text in GOLDEN.items() if key.startswith("deep/")}
    assert len(rendered) == 29
