"""Which columns reach the model: label-like columns never do, --fields chooses exactly; titles, Excel, odd JSON."""

from __future__ import annotations

import json

import openpyxl
import pytest

from assign_cat.products import LABEL_WORDS, load_products
from labnb.errors import InputError, UsageError
from labnb.inputs.labelcols import is_label_column, parse_fields


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["category", "Subcategory", "source_category", "Sub-Category", "label", "goldLabel",
                                  "gold", "target", "class", "y", "expected_brand", "true_class", "Category Path",
                                  "product_type", "ground truth"])
def test_label_like_columns(name):
    assert is_label_column(name, LABEL_WORDS)


@pytest.mark.parametrize("name", ["brand", "ingredients", "price", "flavour", "size", "sku", "notes", "yield"])
def test_ordinary_columns(name):
    assert not is_label_column(name, LABEL_WORDS)


def test_label_columns_are_withheld_but_kept(tmp_path):
    path = write(tmp_path, "p.csv", "title,brand,category,source_category,Label\nWhey,Acme,Protein,Whey,pw\n")
    [product] = load_products(path)
    assert product.extra == {"brand": "Acme"}
    assert product.withheld == {"category": "Protein", "source_category": "Whey", "Label": "pw"}
    assert product.to_dict()["withheld"] == product.withheld  # products.json keeps every column


def test_fields_chooses_exactly_the_offered_columns(tmp_path):
    path = write(tmp_path, "p.csv", "title,brand,flavour,category,expected_category\nWhey,Acme,Vanilla,Protein,c\n")
    [product] = load_products(path, fields=parse_fields("flavour, category"))
    assert product.extra == {"flavour": "Vanilla", "category": "Protein"}  # an explicit choice is honoured
    assert product.withheld == {"brand": "Acme"}
    assert load_products(path, fields=parse_fields(""))[0].extra == {}
    with pytest.raises(UsageError, match=r"^--fields: .*p\.csv has no column 'colour' \(extra columns: brand, "
                                         r"category, flavour\)$"):
        load_products(path, fields=("colour",))
    with pytest.raises(UsageError, match="'expected_category' is never offered to the model"):
        load_products(path, fields=("expected_category",))


def test_title_header_in_any_case_and_title_column(tmp_path):
    assert load_products(write(tmp_path, "a.csv", "Title,Product_ID\nWhey,A1\n"))[0].product_id == "A1"
    path = write(tmp_path, "b.csv", "name,brand\nWhey Isolate,Acme\n")
    [product] = load_products(path, title_column="name")
    assert (product.title, product.extra) == ("Whey Isolate", {"brand": "Acme"})
    with pytest.raises(InputError, match="missing required column 'label_text'"):
        load_products(path, title_column="label_text")


def test_excel_first_sheet_or_named_sheet_formulas_never_run(tmp_path):
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Products"
    first.append(["product_id", "Title", "brand", "price"])
    first.append([1001, "=1+2", "@Acme", 12.5])
    first["B2"].data_type = "s"  # a text cell that starts with "=", as Excel stores a typed '=1+2
    first.append([None, None, None, None])
    first.append(["A-2", "Creatine", "-Nordic", "=SUM(1,2)"])  # a formula: read as its saved value (none)
    other = book.create_sheet("Other")
    other.append(["title"])
    other.append(["Zinc"])
    path = tmp_path / "p.xlsx"
    book.save(path)
    products = load_products(path)
    assert [(p.product_id, p.title, p.extra) for p in products] == [
        ("1001", "=1+2", {"brand": "@Acme", "price": "12.5"}), ("A-2", "Creatine", {"brand": "-Nordic"})]
    assert [p.title for p in load_products(path, sheet="Other")] == ["Zinc"]
    with pytest.raises(InputError, match=r"p\.xlsx: no sheet 'Nope' \(sheets: Products, Other\)"):
        load_products(path, sheet="Nope")
    with pytest.raises(InputError, match=r"--sheet applies to Excel files"):
        load_products(write(tmp_path, "p.csv", "title\nx\n"), sheet="Products")
    first.append(["A-2", "Again"])
    book.save(path)
    with pytest.raises(InputError, match=r"p\.xlsx: row 5: duplicate product_id 'A-2' \(first at row 4\)"):
        load_products(path)


def test_odd_json_values(tmp_path):
    big = "7" * 5000
    [product] = load_products(write(tmp_path, "a.json", f'[{{"product_id": {big}, "title": "Whey"}}]'))
    assert product.product_id == big  # beyond Python's int-string limit the digits stay text
    with pytest.raises(InputError, match=r"b\.jsonl: line 2: field 'title' must be text or a number, not a nested"):
        load_products(write(tmp_path, "b.jsonl", '{"title": "A"}\n{"title": {"en": "B"}}\n'))
    with pytest.raises(InputError, match=r"c\.json: line 1: JSON nested too deeply"):
        load_products(write(tmp_path, "c.json", '[{"title": "A", "x": ' + "[" * 100_000 + "]" * 100_000 + "}]"))
    with pytest.raises(InputError, match=r"d\.json: item 1: field 'brand' is not valid Unicode \(lone surrogate "
                                         r"U\+D800\)"):
        load_products(write(tmp_path, "d.json", json.dumps([{"title": "A", "brand": "\ud800"}])))
    nested = load_products(write(tmp_path, "e.json", json.dumps([{"title": "A", "tags": ["x", {"y": 1}]}])))
    assert nested[0].extra == {"tags": '["x", {"y": 1}]'}  # nested values in other columns: kept as JSON text


def test_a_catalogs_own_label_columns_never_reach_the_model(cli, api_env, tmp_path):
    path = write(tmp_path, "cat.csv", "product_id,title,brand,category,subcategory\n"
                                      "A1,Gold Standard Whey,Optimum,Protein Powders,Whey Isolate\n")
    result = cli("--input", str(path))
    assert result.code == 0, result.err
    [request] = api_env.requests_to("/v1/chat/completions")
    user = request["json"]["messages"][-1]["content"]
    assert "Gold Standard Whey | brand: Optimum" in user
    assert "Protein Powders" not in json.dumps(request["json"]) and "Whey Isolate" not in json.dumps(request["json"])
    [saved] = result.json("inputs/products.json")
    assert saved["extra"] == {"brand": "Optimum"}
    assert saved["withheld"] == {"category": "Protein Powders", "subcategory": "Whey Isolate"}


def test_column_split_names_what_is_offered_and_withheld(tmp_path):
    from labnb.inputs.labelcols import column_split

    path = write(tmp_path, "p.csv", "title,brand,category,size\nWhey,Acme,Protein,\nCasein,,Protein,1 kg\n")
    assert column_split(load_products(path)) == (["brand", "size"], ["category"])


def test_a_5000_digit_id_runs_end_to_end(cli, api_env, tmp_path):
    big = "9" * 5000
    path = write(tmp_path, "big.jsonl", f'{{"product_id": {big}, "title": "Whey Protein"}}\n')
    result = cli("--input", str(path))
    assert result.code == 0, result.err
    rows = (result.run_dir / "outputs" / "classifications.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith(f"{big},Whey Protein,")
