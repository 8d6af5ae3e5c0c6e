"""Loading classify-text items: formats, the sample file, gold-label normalisation and one-line errors."""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import pytest

from conftest import ROOT
from labnb.errors import InputError
from labnb.flat.items import TextColumns, TextItem, check_gold, load_items, single_text
from labnb.flat.labels import load_labels

SAMPLE = ROOT / "data" / "sample_reviews.csv"
SENTIMENT = ROOT / "config" / "labels" / "sentiment.yaml"


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_sample_reviews_load_with_gold_ids_of_the_sentiment_labels():
    items = load_items(SAMPLE)
    frame = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["id", "text", "expected_label"]
    assert [i.item_id for i in items] == list(frame["id"]) == [f"r{n:03d}" for n in range(1, 81)]
    assert [i.text for i in items] == list(frame["text"])  # quotes and commas round-trip through pandas
    counts = Counter(i.expected_label for i in items)
    assert counts == {"positive": 22, "negative": 22, "neutral": 18, "mixed": 18}
    assert check_gold(items, load_labels(SENTIMENT)).unknown == []


def test_formats_text_column_extras_and_limit(tmp_path):
    tsv = write(tmp_path, "t.tsv", "review\tstars\nGreat  mug\n\t\n\nBad\t1\n")
    assert load_items(tsv, TextColumns(("review",))) == [TextItem("t0001", "Great mug"),
                                                      TextItem("t0002", "Bad", extra={"stars": "1"})]
    rows = [{"text": "Fine", "id": 7, "expected_label": "neutral"}, {"text": "Meh", "tags": ["a"]}]
    assert load_items(write(tmp_path, "t.json", json.dumps({"items": rows}))) == [
        TextItem("7", "Fine", "neutral"), TextItem("t0002", "Meh", extra={"tags": '["a"]'})]
    jsonl = write(tmp_path, "t.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    assert [i.item_id for i in load_items(jsonl, limit=1)] == ["7"]


def test_item_round_trips_through_json():
    item = TextItem("x", "T", "positive", {"stars": "5"})
    assert TextItem.from_dict(json.loads(json.dumps(item.to_dict()))) == item
    assert TextItem("y", "U").to_dict() == {"item_id": "y", "text": "U"}


def test_gold_given_as_names_becomes_ids_and_unknown_ones_are_counted():
    items = [TextItem("a", "x", "Positive"), TextItem("b", "x", "NEGATIVE"), TextItem("c", "x", "mixed"),
             TextItem("d", "x"), TextItem("e", "x", "great"), TextItem("f", "x", "great"), TextItem("g", "x", "4")]
    checked = check_gold(items, load_labels(SENTIMENT))
    assert [i.expected_label for i in checked.items] == ["positive", "negative", "mixed", "", "great", "great", "4"]
    assert checked.unknown == ["great", "great", "4"]
    assert checked.warning == ("3 gold label(s) name no label of the label set and can never be matched: "
                               "'4', 'great'")
    assert check_gold(items[:4], load_labels(SENTIMENT)).warning == ""


@pytest.mark.parametrize("name, data, kwargs, message", [
    ("header.csv", "text,id\n", {}, "no items (the file has a header but no rows)"),
    ("notext.csv", "review\nGood\n", {}, "line 1: missing required column 'text'"),
    ("other.csv", "text\nGood\n", {"columns": TextColumns(("body",))}, "line 1: missing required column 'body'"),
    ("empty.csv", "id,text\na,Good\nb,  \n", {}, "line 3: empty text"),
    ("emptybody.csv", "body\n\"\"\n\"  \"\n", {"columns": TextColumns(("body",))}, "line 3: empty body"),
    ("long.csv", "text\n" + "x" * 5000 + "\n", {}, "line 2: text longer than 4000 characters (5000)"),
    ("field.csv", "text,notes\nGood," + "y" * 20_001 + "\n", {}, "line 2: field 'notes' longer than 20000"),
    ("dupe.csv", "id,text\na,Good\nb,Bad\na,Ugly\n", {}, "line 4: duplicate id 'a' (first at line 2)"),
    ("dupe.json", '[{"id": "a", "text": "A"}, {"id": "a", "text": "B"}]', {}, "item 2: duplicate id 'a' (first at "
                                                                             "item 1)"),
    ("latin1.csv", "text\nCr\xe8me\n".encode("latin-1"), {}, "line 2: not UTF-8 (byte 0xe8)"),
    ("bad.jsonl", '{"text": "A"}\n{"text": \n', {}, "line 2: malformed JSON"),
    ("reviews.xlsx", "PK", {}, "not a readable Excel .xlsx file"),
], ids=lambda value: value if isinstance(value, str) and len(value) < 40 else "")
def test_bad_files_are_one_line_errors_naming_file_and_line(tmp_path, name, data, kwargs, message):
    path = write(tmp_path, name, data)
    with pytest.raises(InputError) as err:
        load_items(path, **kwargs)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value), str(err.value)
    assert "\n" not in str(err.value)


def test_single_text():
    assert single_text("  Love it, \n would buy again ") == [TextItem("t0001", "Love it, would buy again")]
    with pytest.raises(InputError, match=r"^--single-text: the text is empty$"):
        single_text(" \n ")
    with pytest.raises(InputError, match=r"^--single-text: text longer than 4000 characters$"):
        single_text("x" * 4001)
