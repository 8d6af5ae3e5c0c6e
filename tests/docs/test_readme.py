"""The README is a door: at most 250 lines, its two commands are exactly what CI runs, its links all lead
somewhere."""

from __future__ import annotations

import re

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_is_short_and_every_link_leads_to_a_file():
    assert len(README.splitlines()) <= 250
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    assert len(links) >= 20
    assert [link for link in links if not (ROOT / link).is_file()] == []


def test_ci_runs_the_readmes_two_commands_as_written():
    two = README.split("## Two commands", 1)[1].split("## ", 1)[0]
    first, second = re.findall(r"```bash\n(.*?)\n```", two, re.S)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    setup, _, run_first = first.partition(" && pip install")
    assert setup == "python -m venv .venv && . .venv/bin/activate"  # .ci/run makes its own venv the same way
    assert re.search(r'^python -m venv "\$venv"$', ci, re.M) and re.search(r'^\. "\$venv/bin/activate"$', ci, re.M)
    assert f"pip install{run_first}\n" in ci
    assert f"{second} || status=$?\n" in ci
