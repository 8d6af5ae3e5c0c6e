"""classify-text prompts: the label listing is the stable, cached prefix; only the numbered texts change."""

from __future__ import annotations

from classify_text import prompts
from classify_text.items import TextItem
from classify_text.labels import Label, LabelSet

LABELS = LabelSet("tickets", "2", "Support tickets.", (Label("billing", "Billing", "Invoices and refunds."),
                                                       Label("bug", "Bug")))


def test_system_prompt_lists_every_label_by_number():
    system = prompts.render_system(LABELS)
    assert 'Label set "tickets" (version 2): Support tickets. Each line is' in system
    assert "\n  1: Billing - Invoices and refunds.\n  2: Bug\n\n" in system
    assert system.endswith('in the form {"r":[{"n":1,"k":12}]}, where n is the text\'s number as given and k the '
                           "number of its label.")
    assert '"why":"one short reason"' in prompts.render_system(LABELS, explain=True)
    no_description = LabelSet("t", "1", "", LABELS.labels)
    assert 'Label set "t" (version 1). Each line is' in prompts.render_system(no_description)


def test_user_turn_numbers_the_batch_from_one():
    items = [TextItem("a", "Charged twice, please refund"), TextItem("b", 'App crashes on "Save", every time')]
    assert prompts.render_user(items) == ('Label these 2 texts:\n1. Charged twice, please refund\n'
                                          '2. App crashes on "Save", every time')
    assert prompts.render_user(items[1:]).endswith('\n1. App crashes on "Save", every time')


def test_templates_record_the_prompt_schema_and_codes():
    record = prompts.templates(LABELS, explain=True)
    assert record["label_codes"] == {"1": "billing", "2": "bug"}
    assert record["rendered_system_prompt"] == prompts.render_system(LABELS, explain=True)
    assert record["answer_schema"]["properties"]["r"]["items"]["properties"]["k"] == {"type": "integer",
                                                                                      "enum": [1, 2]}
    assert record["answer_schema"]["properties"]["r"]["items"]["required"] == ["n", "k", "why"]
    assert (record["system_template"], record["user_template"], record["item_line_template"]) == (
        prompts.SYSTEM_TEMPLATE, prompts.USER_TEMPLATE, prompts.ITEM_LINE)
    assert record["explain"] is True and len(record["rendered_system_prompt_sha256"]) == 64
