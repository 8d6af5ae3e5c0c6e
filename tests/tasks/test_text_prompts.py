"""Flat-label prompts: the shipped prompt file is the built-in prompt; the label listing is the stable, cached
prefix and only the numbered texts change. The expected bytes are those of the Python templates the file replaced."""

from __future__ import annotations

import yaml

from labnb.flat.items import TextItem
from labnb.flat.labels import Label, LabelSet
from labnb.flat.task import Classify

LABELS = LabelSet("tickets", "2", "Support tickets.", (Label("billing", "Billing", "Invoices and refunds."),
                                                       Label("bug", "Bug")))
SYSTEM = ("You classify short texts such as product reviews, support messages or titles with one label of a fixed "
          "label set.\nFor each text choose the one label that fits it best and answer with that label's number. "
          "Use only the numbers listed below.\n\nLabel set \"tickets\" (version 2): Support tickets. Each line is "
          "`number: Label name - description`.\n  1: Billing - Invoices and refunds.\n  2: Bug\n\nAnswer with JSON "
          "only, one entry per text, in the form {\"r\":[{\"n\":1,\"k\":12}]}, where n is the text's number as given "
          "and k the number of its label.")


def task(labels: LabelSet = LABELS) -> Classify:
    out = Classify()
    out.label_set = labels
    return out


def test_system_prompt_lists_every_label_by_number_byte_for_byte():
    assert task().render_system() == SYSTEM
    assert task().render_system(explain=True) == SYSTEM.replace('"k":12}', '"k":12,"why":"one short reason"}')
    no_description = LabelSet("t", "1", "", LABELS.labels)
    assert 'Label set "t" (version 1). Each line is' in task(no_description).render_system()


def test_user_turn_numbers_the_batch_from_one():
    items = [TextItem("a", "Charged twice, please refund"), TextItem("b", 'App crashes on "Save", every time')]
    assert task().render_user(items) == ('Label these 2 texts:\n1. Charged twice, please refund\n'
                                         '2. App crashes on "Save", every time')
    assert task().render_user(items[1:]).endswith('\n1. App crashes on "Save", every time')


def test_templates_record_the_prompt_file_schema_and_codes():
    record = task().prompt_templates(explain=True)
    assert record["label_codes"] == {"1": "billing", "2": "bug"}
    assert record["rendered_system_prompt"] == task().render_system(explain=True)
    assert record["answer_schema"]["properties"]["r"]["items"]["properties"]["k"] == {"type": "integer",
                                                                                      "enum": [1, 2]}
    assert record["answer_schema"]["properties"]["r"]["items"]["required"] == ["n", "k", "why"]
    shipped = yaml.safe_load(Classify.prompt_file.read_text())  # the one place the prompt is written
    assert (record["prompt_file"], record["system_template"], record["user_template"]) == (
        str(Classify.prompt_file), shipped["system"], shipped["user"])
    assert record["explain"] is True and len(record["rendered_system_prompt_sha256"]) == 64
