"""Loading products: formats, what real spreadsheets produce, and one-line errors for broken files."""

import json
from pathlib import Path

import pandas as pd
import pytest

from assign_cat.products import Product, load_products, single_product
from labnb.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_sample_products_load_with_gold_labels_and_extras():
    products = load_products(ROOT / "data" / "sample_products.csv")
    frame = pd.read_csv(ROOT / "data" / "sample_products.csv", dtype=str, keep_default_na=False)
    assert len(products) == len(frame) >= 40
    assert [p.product_id for p in products] == list(frame["product_id"])
    assert all(p.has_gold and p.extra.get("brand") for p in products)


def test_spreadsheet_quirks_load(tmp_path):
    # BOM, CRLF, a quoted comma, a quoted newline, doubled quotes, an extra column, blank trailing lines.
    text = ('\ufefftitle,brand,description,extra col\r\n'
            '"Fish Oil, 1000 mg",Nordic,"Omega-3\r\nfrom anchovies","x"\r\n'
            '"The ""Best"" Whey",Acme,,\r\n'
            '\r\n\r\n')
    products = load_products(write(tmp_path, "p.csv", text))
    assert [p.title for p in products] == ["Fish Oil, 1000 mg", 'The "Best" Whey']
    assert [p.product_id for p in products] == ["p0001", "p0002"]
    assert products[0].description == "Omega-3\r\nfrom anchovies"
    assert products[0].extra == {"brand": "Nordic", "extra col": "x"}
    assert products[1].extra == {"brand": "Acme"}


def test_tsv_json_jsonl_and_limit(tmp_path):
    tsv = write(tmp_path, "p.tsv", "product_id\ttitle\texpected_category\nA1\tZinc 50 mg\tminerals\nA2\tMelatonin\t\n")
    assert [(p.product_id, p.title, p.expected_category) for p in load_products(tsv)] == [
        ("A1", "Zinc 50 mg", "minerals"), ("A2", "Melatonin", "")]
    items = [{"title": "Krill Oil", "ingredients": ["krill"]}, {"title": "Creatine", "product_id": 7}]
    js = write(tmp_path, "p.json", json.dumps(items))
    loaded = load_products(js)
    assert loaded[0].extra == {"ingredients": '["krill"]'} and loaded[1].product_id == "7"
    jsonl = write(tmp_path, "p.jsonl", "\n".join(json.dumps(i) for i in items) + "\n\n")
    assert [p.title for p in load_products(jsonl, limit=1)] == ["Krill Oil"]


def test_product_round_trips_through_json():
    product = Product("x", "T", "d", "c", "s", {"brand": "B"})
    assert Product.from_dict(json.loads(json.dumps(product.to_dict()))) == product


@pytest.mark.parametrize("name, data, message", [
    ("empty.csv", "", "file is empty"),
    ("blank.csv", "\n\n  \n", "file is empty"),
    ("header.csv", "title,brand\n", "no products"),
    ("notitle.csv", "name,brand\nWhey,Acme\n", "line 1: missing required column 'title'"),
    ("semi.csv", "title;brand\nWhey;Acme\n", "looks semicolon-delimited"),
    ("tabs.csv", "title\tbrand\nWhey\tAcme\n", "looks tab-delimited"),
    ("emptytitle.csv", "title,brand\nWhey,Acme\n  ,Acme\n", "line 3: empty title"),
    ("dupe.csv", "product_id,title\na,Whey\nb,Zinc\na,Iron\n", "line 4: duplicate product_id 'a' (first at line 2)"),
    ("latin1.csv", "title\nCr\xe8me\n".encode("latin-1"), "line 2: not UTF-8 (byte 0xe8)"),
    ("unterminated.csv", 'title,brand\n"Whey,Acme\n', "malformed CSV"),
    ("toomany.csv", "title\nWhey,Acme,Extra\n", "line 2: 3 fields but the header has 1"),
    ("dupecol.csv", "title,title\nA,B\n", "duplicate column 'title'"),
    ("huge.csv", "title\n" + "x" * 1_000_000 + "\n", "title longer than 1000 characters"),
    ("bad.json", '[{"title": "A"},', "malformed JSON"),
    ("dict.json", '{"title": "A"}', "expected a JSON list"),
    ("notitle.jsonl", '{"title": "A"}\n{"name": "B"}\n', "line 2: missing required field 'title'"),
    ("scalar.jsonl", '{"title": "A"}\n42\n', "line 2: expected a JSON object"),
    ("products.xls", "PK", "unknown file type '.xls'"),
    ("products.xlsx", "PK", "not a readable Excel .xlsx file"),
], ids=lambda value: value if isinstance(value, str) and len(value) < 40 else "")
def test_bad_files_are_one_line_errors_naming_the_file(tmp_path, name, data, message):
    path = write(tmp_path, name, data)
    with pytest.raises(InputError) as err:
        load_products(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="input file not found"):
        load_products(tmp_path / "nope.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        load_products(tmp_path / "dir.csv")


def test_single_product_normalises_whitespace():
    assert single_product("  Ashwagandha \n Capsules ") == [Product("p0001", "Ashwagandha Capsules")]
    with pytest.raises(InputError, match="title is empty"):
        single_product("   ")
