"""The classify-text command line: the framework's CLI with the classify-text task."""

from __future__ import annotations

from classify_text.task import ClassifyText
from labnb.run import cli

build_parser, main = cli.entry(ClassifyText, prog="run_classify_text.py", description=(
    "Label short texts (reviews, support messages, titles) with one label of a flat label set, with an LLM "
    "or the local model, recording everything in a run folder."))
