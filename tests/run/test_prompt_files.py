"""Prompt files: a copy of the shipped file renders the built-in prompt; examples; every error is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from assign_cat.products import load_products
from assign_cat.task import AssignCat
from conftest import ROOT
from labnb.errors import InputError
from labnb.fewshot import ExampleSet, ShotSelector, ShotSettings
from labnb.prompting import load_prompt_file
from labnb.prompting.setup import Prompting, load_examples
from tasks.test_assign_cat_prompt_files import GOLDEN

TASK = AssignCat(ROOT / "config" / "taxonomy.xml")
PRODUCTS = load_products(ROOT / "data" / "sample_products.csv")


def shipped(examples=(), fixed=()) -> Prompting:
    """The shipped prompt file; ``examples`` shown after the prefix (one request draws them all), ``fixed`` in it."""
    prompt = load_prompt_file(TASK.prompt_file, extra_variables=TASK.prompt_extra_variables)
    selector = ShotSelector(ExampleSet(tuple(examples)), ShotSettings(len(examples), "random")) if examples else None
    return Prompting(prompt, selector=selector, fixed=list(fixed))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_copy_of_the_shipped_file_given_with_prompt_renders_the_built_in_prompt(tmp_path):
    copy = write(tmp_path, TASK.prompt_file.read_text(encoding="utf-8"))
    prompting = Prompting(load_prompt_file(copy, extra_variables=TASK.prompt_extra_variables))
    assert not prompting.prompt.appends_answer_format
    for explain in (False, True):
        assert prompting.system(TASK, explain=explain) == GOLDEN[f"two-level/system/explain={explain}"]
    for size in (1, 7, len(PRODUCTS)):
        assert prompting.user(TASK, PRODUCTS[:size], explain=False) == GOLDEN[f"two-level/user/sample[:{size}]"]


def test_examples_render_in_the_prefix_when_fixed_and_before_the_items_otherwise():
    examples = load_examples(TASK, ROOT / "data" / "sample_products.csv").examples
    system = shipped(fixed=examples[2:3]).system(TASK, explain=False)
    assert system == GOLDEN["two-level/system/explain=False"].replace(
        "\n\nAnswer with JSON", "\n\nExamples of classified products, each followed by the number of its "
        "subcategory:\nVitamin D3 Liquid Drops 1000 IU – Unflavoured, 30 ml | brand: Pürelab => 2\n\nAnswer with JSON")
    user = shipped(examples=examples[2:3]).user(TASK, PRODUCTS[:1], explain=False)
    assert user == ("Examples of classified products, each followed by the number of its subcategory:\n"
                    "Vitamin D3 Liquid Drops 1000 IU – Unflavoured, 30 ml | brand: Pürelab => 2\n\n"
                    + GOLDEN["two-level/user/sample[:1]"])


def test_a_template_without_answer_format_gets_it_appended(tmp_path):
    path = write(tmp_path, "system: |-\n  Sort {{ item_noun }}s into:\n  {{ labels }}\nuser: |-\n"
                           "  {% for i in items %}{{ i.n }}) {{ i.text }}\n  {% endfor %}")
    prompt = load_prompt_file(path)
    assert prompt.appends_answer_format
    variables = {"labels": "1: A\n2: B", "item_noun": "review", "answer_format": "Answer JSON."}
    assert prompt.render_system(variables) == "Sort reviews into:\n1: A\n2: B\n\nAnswer JSON."
    items = [{"n": 1, "text": "x"}, {"n": 2, "text": "y"}]
    assert prompt.render_user({**variables, "items": items}) == "1) x\n2) y\n"


@pytest.mark.parametrize(("text", "message"), [
    ("system: |\n  ok {{ labels }}\n  {% if %}\nuser: x\n",
     "p.yaml: line 3: system template: syntax error: Expected an expression, got 'end of statement block'"),
    ("system: x\nuser: |-\n  a\n  b {{ item.txt }}\n",
     "p.yaml: line 4: user template: unknown variable 'item' (known: answer_format, choice_noun, choices, count, "
     "examples, explain, item_noun, items, labels)"),
    ("system: |\n  {{ items }}\nuser: x\n",
     "p.yaml: line 2: system template: 'items' is only available in the user template (the system prompt is the "
     "cached prefix, the same for every request)"),
    ("system: x\nuser: [\n", "p.yaml: line 3: not valid YAML: expected the node content, but found '<stream end>'"),
    ("system: x\n", "p.yaml: line 1: missing 'user' template"),
    ("system: x\nuser: y\nshots: 3\n", "p.yaml: line 3: unknown key 'shots' (expected system, user, description)"),
    ("system: x\nuser: 3\n", "p.yaml: line 2: 'user' must be a text"),
])
def test_bad_prompt_files_are_one_line_naming_file_and_line(tmp_path, text, message):
    with pytest.raises(InputError) as caught:
        load_prompt_file(write(tmp_path, text))
    assert str(caught.value) == f"{tmp_path}/{message}"


def test_render_errors_and_the_sandbox_name_the_line(tmp_path):
    prompt = load_prompt_file(write(tmp_path, "system: |-\n  {{ labels }}\n  {{ choices.missing }}\nuser: |-\n"
                                              "  {{ labels.__class__ }}\n"))
    with pytest.raises(InputError) as caught:
        prompt.render_system({"labels": "L", "choices": {}, "answer_format": "A"})
    assert str(caught.value) == f"{tmp_path}/p.yaml: line 3: system template: 'dict object' has no attribute 'missing'"
    with pytest.raises(InputError) as caught:
        prompt.render_user({"labels": "L", "choices": {}, "answer_format": "A", "items": []})
    assert str(caught.value) == (f"{tmp_path}/p.yaml: line 5: user template: access to attribute '__class__' of "
                                 "'str' object is unsafe.")


def test_missing_prompt_file(tmp_path):
    with pytest.raises(InputError) as caught:
        load_prompt_file(tmp_path / "nope.yaml")
    assert str(caught.value) == f"{tmp_path}/nope.yaml: prompt file not found"


def test_the_flat_built_in_prompt_is_the_shipped_file_with_the_old_user_turn_bytes():
    from classify_text.task import ClassifyText
    from labnb.flat.items import load_items

    task = ClassifyText()
    task._use_labels(ROOT / "config" / "labels" / "sentiment.yaml")
    items = load_items(ROOT / "data" / "sample_reviews.csv")
    prompting = Prompting(load_prompt_file(task.prompt_file, extra_variables=task.prompt_extra_variables))
    for explain in (False, True):
        assert prompting.system(task, explain=explain) == task.render_system(explain=explain)
    for size in (1, 6, len(items)):  # the old format string: "Label these {count} texts:" and "{n}. {text}" lines,
        # and one text "Label this text:" (never "these 1 texts", main's docs branch)
        head = "Label this text:" if size == 1 else f"Label these {size} texts:"
        expected = f"{head}\n" + "\n".join(f"{n}. {i.text}" for n, i in enumerate(items[:size], 1))
        assert task.render_user(items[:size]) == prompting.user(task, items[:size], explain=False) == expected
