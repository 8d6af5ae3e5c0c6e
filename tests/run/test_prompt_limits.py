"""Prompt files render under a size and a work limit: a huge string or nested loops end in one line, quickly."""

from __future__ import annotations

from pathlib import Path

import pytest

from labnb.errors import InputError
from labnb.prompting import load_prompt_file

VARIABLES = {"labels": "L", "choices": {}, "answer_format": "A"}


def prompt_file(tmp_path: Path, system: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(f"system: |-\n  intro\n  {system}\nuser: |-\n  {{{{ items }}}}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("template, message", [
    ("{{ 'x' * 1000000000 }}", "'*' would make 1,000,000,000 items or characters (the limit is 4,000,000)"),
    ("{{ [1, 2] * 1000000000 }}", "'*' would make 2,000,000,000 items or characters (the limit is 4,000,000)"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
     "more than 1,000,000 loop steps in one render (the limit)"),
    ("{{ 'x'|center(1000000000) }}", "a width or count of 1,000,000,000 (the limit is 4,000,000)"),
    ("{{ 'x'.ljust(1000000000) }}", "a width or count of 1,000,000,000 (the limit is 4,000,000)"),
    ("{{ '%1000000000s' % 'a' }}", "a format width of 1,000,000,000 (the limit is 4,000,000)"),
    ("{{ '{:>1000000000}'.format(1) }}", "a format width of 1,000,000,000 (the limit is 4,000,000)"),
    ("{{ 10 ** 10000000 }}", "an exponent of 10000000 (the limit is 1000)"),
    ("{{ ('y' * 3000000) + ('y' * 3000000) }}", "a value of 6,000,000 items or characters (the limit is 4,000,000)"),
])
def test_a_template_past_a_limit_is_one_line_naming_file_and_line(tmp_path, template, message):
    path = prompt_file(tmp_path, template)
    prompt = load_prompt_file(path)
    with pytest.raises(InputError) as caught:
        prompt.render_system(VARIABLES)
    assert str(caught.value) == f"{path}: line 3: system template: {message}"


def test_output_that_grows_past_the_limit_stops_there(tmp_path):
    path = prompt_file(tmp_path, "{% for i in range(100000) %}{{ 'y' * 100 }}{% endfor %}")
    with pytest.raises(InputError) as caught:
        load_prompt_file(path).render_system(VARIABLES)
    assert str(caught.value) == f"{path}: system template: the rendered prompt passed 4,000,000 characters (the limit)"


def test_templates_within_the_limits_render_as_before(tmp_path):
    path = prompt_file(tmp_path, "{% for i in range(3) %}{{ loop.index }}/{{ loop.length }} {% endfor %}{{ 'ab' * 2 }}"
                                 "{{ '%5s' % 'x' }}{{ labels|center(5) }}")
    assert load_prompt_file(path).render_system(VARIABLES) == "intro\n1/3 2/3 3/3 abab    x  L  \n\nA"


def test_the_cli_refuses_a_runaway_prompt_file_with_exit_2_and_no_folder(cli, tmp_path):
    path = prompt_file(tmp_path, "{{ 'x' * 1000000000 }}")
    result = cli("--single-product", "Zinc", "--prompt", str(path))
    assert (result.code, result.out) == (2, "")
    assert result.err == (f"error: {path}: line 3: system template: '*' would make 1,000,000,000 items or characters "
                          "(the limit is 4,000,000)\n")
    assert result.run_dirs == []
