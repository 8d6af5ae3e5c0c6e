"""Invisible characters: bidi overrides are escaped on the console; names differing only by one are duplicates."""

from __future__ import annotations

import pytest

from labnb.errors import InputError
from labnb.flat.labels import load_labels

RLO = "\u202e"
LABELS = """name: tones
version: "1"
labels:
  - id: positive
    name: Positive
  - id: upbeat
    name: "{second}"
"""


def test_the_console_escapes_bidi_controls_and_line_separators():
    from labnb.terminal.console import safe

    assert safe(f"invoice{RLO}fdp.exe") == "invoice\\u202efdp.exe"
    assert safe("a\u2066b\u2069c\u200fd\u2028e") == "a\\u2066b\\u2069c\\u200fd\\u2028e"
    assert safe("Crème 健康 👨\u200d👩\u200d👧") == "Crème 健康 👨\u200d👩\u200d👧"  # emoji joiners stay


@pytest.mark.parametrize("second", ["Posi\u200btive", "Posi\\u200btive", "\\ufeffPositive", "Ｐｏｓｉｔｉｖｅ",
                                    "Posi\\u2060tive"])
def test_label_names_differing_only_by_invisible_or_width_characters_are_duplicates(tmp_path, second):
    path = tmp_path / "tones.yaml"
    path.write_text(LABELS.format(second=second), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_labels(path)
    message = str(err.value)
    assert message.startswith(f"{path}: line 7: duplicate label name '") and message.endswith(
        "' (first at line 5 as 'Positive'; it differs only by invisible or width characters)")
    assert "\n" not in message and "\u200b" not in message and "\ufeff" not in message


def test_a_zero_width_duplicate_is_one_line_and_exit_2_from_the_cli(text_cli, tmp_path):
    path = tmp_path / "tones.yaml"
    path.write_text(LABELS.format(second="Posi\u200btive"), encoding="utf-8")
    result = text_cli("--single-text", "fine", "--labels", str(path))
    assert result.code == 2 and result.out == ""
    assert result.err == (f"error: {path}: line 7: duplicate label name 'Posi\\u200btive' (first at line 5 as "
                          "'Positive'; it differs only by invisible or width characters)\n")
    assert not text_cli.runs_dir.exists()


def test_a_title_and_a_label_name_with_a_bidi_override_print_escaped(text_cli, fake_api, tmp_path):

    path = tmp_path / "tones.yaml"
    path.write_text(LABELS.format(second=f"Up{RLO}beat"), encoding="utf-8")
    fake_api.taxonomy_pairs = [("positive", ""), ("upbeat", "")]
    fake_api.labels = {f"great{RLO}tahw": ("upbeat", "")}
    result = text_cli("--single-text", f"great{RLO}tahw", "--labels", str(path))
    assert result.code == 0, result.err
    # escaped, then the confidence classify-text now prints like assign-cat
    assert result.out.splitlines()[0] == "great\\u202etahw → Up\\u202ebeat (confidence 0.99)"
    assert RLO not in result.out + result.err
