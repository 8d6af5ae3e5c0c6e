"""Label sets of classify-text: the shipped file, name resolution, and one-line errors naming file and line."""

from __future__ import annotations

import pytest

from conftest import ROOT
from labnb.errors import InputError
from labnb.flat.labels import Label, LabelSet, load_labels

GOOD = """name: tickets
version: 1.10
labels:
  - id: billing
    name: Billing
    description: Invoices and payments.
  - id: "no"
    name: Not a ticket
"""


def write(tmp_path, text, name="l.yaml"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_shipped_sentiment_labels_are_numbered_in_file_order():
    labels = load_labels(ROOT / "config" / "labels" / "sentiment.yaml")
    assert (labels.name, labels.version) == ("sentiment", "1.0")
    assert labels.ids == ["positive", "negative", "neutral", "mixed"]
    assert [(k, v.id) for k, v in labels.codes.items()] == [(1, "positive"), (2, "negative"), (3, "neutral"),
                                                            (4, "mixed")]
    assert all(len(label.description) > 40 for label in labels.labels)


def test_scalars_are_kept_as_written(tmp_path):
    labels = load_labels(write(tmp_path, GOOD))
    assert labels == LabelSet("tickets", "1.10", "", (Label("billing", "Billing", "Invoices and payments."),
                                                        Label("no", "Not a ticket")))


def test_resolve_takes_an_id_then_a_name_then_any_case():
    labels = LabelSet("s", "1", "", (Label("pos", "Positive"), Label("neg", "Negative"), Label("Positive", "Odd")))
    assert [labels.resolve(v) for v in ("pos", "Negative", " negative ", "NEGATIVE", "Positive", "good")] == [
        "pos", "neg", "neg", "neg", "Positive", None]


BAD = [
    ("empty", "", "labels file is empty"),
    ("not a mapping", "- a\n- b\n", "line 1: the labels file must be a mapping"),
    ("missing labels", "name: s\nversion: 1\n", "line 1: the labels file: missing required key 'labels'"),
    ("unknown key", "name: s\nversion: 1\ncolour: red\nlabels: []\n", "line 3: the labels file: unknown key 'colour'"),
    ("duplicate key", "name: s\nname: t\nversion: 1\nlabels: []\n", "line 2: the labels file: duplicate key 'name'"),
    ("name not a slug", "name: My Labels\nversion: 1\nlabels: []\n", "line 1: name must be a slug"),
    ("empty version", "name: s\nversion:\nlabels: []\n", "line 2: version is empty"),
    ("labels empty", "name: s\nversion: 1\nlabels: []\n", "line 3: labels must be a non-empty list"),
    ("labels a mapping", "name: s\nversion: 1\nlabels: {a: b}\n", "line 3: labels must be a non-empty list"),
    ("label a string", "name: s\nversion: 1\nlabels:\n  - positive\n", "line 4: label 1 must be a mapping"),
    ("label missing id", "name: s\nversion: 1\nlabels:\n  - name: P\n", "line 4: label 1: missing required key 'id'"),
    ("label unknown key", "name: s\nversion: 1\nlabels:\n  - {id: p, name: P, colour: red}\n",
     "line 4: label 1: unknown key 'colour'"),
    ("bad id", "name: s\nversion: 1\nlabels:\n  - {id: Pos itive, name: P}\n", "line 4: label id must be"),
    ("name a list", "name: s\nversion: 1\nlabels:\n  - id: p\n    name: [P]\n",
     "line 5: label 'p': name must be a single value"),
    ("duplicate id", "name: s\nversion: 1\nlabels:\n  - {id: p, name: P}\n  - {id: q, name: Q}\n  - {id: p, name: R}\n",
     "line 6: duplicate label id 'p' (first at line 4)"),
    ("duplicate name", "name: s\nversion: 1\nlabels:\n  - {id: p, name: Good}\n  - {id: q, name: good}\n",
     "line 5: duplicate label name 'good' (first at line 4)"),
    ("long name", "name: s\nversion: 1\nlabels:\n  - {id: p, name: " + "x" * 300 + "}\n",
     "line 4: label 'p': name longer than 200 characters (300)"),
    ("malformed", "name: s\nversion: 1\nlabels: [\n", "malformed YAML"),
    ("tab indent", "name: s\n\tversion: 1\n", "line 2: malformed YAML"),
    ("latin-1", "name: s\nversion: 1\nlabels:\n  - {id: p, name: Cr\xe8me}\n".encode("latin-1"),
     "line 4: not UTF-8 (byte 0xe8)"),
    ("alias", "name: s\nversion: &v 1\ndescription: *v\nlabels: []\n", "line 2: YAML anchors and aliases are not"),
    ("billion laughs", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n", "line 1: YAML anchors and aliases are not allowed"),
    ("too many nodes", "name: s\nversion: 1\nlabels:\n" + "  - x\n" * 10_100, "more than 10000 YAML nodes"),
    ("python tag", "name: !!python/object:os.system s\nversion: 1\nlabels: []\n",
     "line 1: YAML tag 'tag:yaml.org,2002:python/object:os.system' is not allowed"),
]


@pytest.mark.parametrize("text, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_label_files_are_one_line_errors_naming_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_labels(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value), str(err.value)
    assert "\n" not in str(err.value)


def test_missing_directory_and_oversized_files(tmp_path):
    with pytest.raises(InputError, match="labels file not found"):
        load_labels(tmp_path / "none.yaml")
    with pytest.raises(InputError, match="is a directory"):
        load_labels(tmp_path)
    with pytest.raises(InputError, match="labels file larger than 1 MB"):
        load_labels(write(tmp_path, "#" * (2 * 2**20)))


def test_the_largest_label_set_loads_and_one_more_label_is_refused(tmp_path):
    def many(n):
        return "name: big\nversion: 1\nlabels:\n" + "".join(f"  - {{id: l{i}, name: L{i}, description: d}}\n"
                                                           for i in range(n))
    assert len(load_labels(write(tmp_path, many(500))).codes) == 500
    with pytest.raises(InputError, match=r"line 4: more than 500 labels \(501\)$"):
        load_labels(write(tmp_path, many(501)))
