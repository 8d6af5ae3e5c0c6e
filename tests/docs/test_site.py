"""The documentation site: `mkdocs build --strict` passes (no broken link or anchor), the generated reference
holds every option of the parsers, and the home page and a guide render in headless Chromium (looked at too)."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

import pytest

from browser import picture_facts, screenshot
from conftest import ROOT


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                           capture_output=True, text=True, env=env, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def options_of(parser: argparse.ArgumentParser) -> set[str]:
    found = {flag for action in parser._actions for flag in action.option_strings if flag.startswith("--")}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found |= options_of(child)
    return found - {"--help"}


def test_the_cli_reference_lists_every_option_of_every_parser(site):
    import analyze_runs
    from assign_cat.cli import build_parser as assign_cat
    from classify_text.cli import build_parser as classify_text
    from labnb.experiments.cli import build_parser as experiment

    page = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", page)
    for parser in (assign_cat(), classify_text(), experiment(), analyze_runs.build_parser()):
        missing = sorted(flag for flag in options_of(parser) if flag not in text)
        assert not missing, f"{parser.prog}: {missing}"
    assert "--taxonomy-from-columns CAT,SUB" in text and "--labels-from-column NAME" in text


def test_the_benchmarks_page_includes_every_results_file(site):
    page = (site / "benchmarks" / "index.html").read_text(encoding="utf-8")
    for path in sorted((ROOT / "benchmarks").glob("*.md")):
        assert f"benchmarks/{path.name}" in page, path.name


@pytest.mark.parametrize("page", ["index.html", "getting-started/your-own-data/index.html"])
def test_pages_render_in_headless_chromium(site, tmp_path, page):
    png = screenshot((site / page).as_uri(), tmp_path / "page.png", width=1280, height=900)
    facts = picture_facts(png)
    assert (facts["width"], facts["height"]) == (1280, 900)
    # the Material header bar, the navigation and text: coloured, inked, not a blank or error page
    assert facts["inked"] > 0.08 and facts["colours"] > 40, facts
