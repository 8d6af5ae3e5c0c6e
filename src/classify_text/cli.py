"""The classify-text command line: the framework's CLI with the classify-text task."""

from __future__ import annotations

import argparse

from classify_text.task import ClassifyText
from labnb.run import cli


def build_parser() -> argparse.ArgumentParser:
    return cli.build_parser(ClassifyText, prog="run_classify_text.py", description=(
        "Label short texts (reviews, support messages, titles) with one label of a flat label set, with an LLM "
        "or the local model, recording everything in a run folder."))


def main(argv: list[str] | None = None) -> int:
    return cli.main(ClassifyText(), build_parser(), argv)
