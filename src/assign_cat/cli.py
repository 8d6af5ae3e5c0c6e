"""The assign-cat command line: the framework's CLI with the assign-cat task."""

from __future__ import annotations

from assign_cat.task import AssignCat
from labnb.run import cli

build_parser, main = cli.entry(AssignCat, prog="run_assign_cat.py", description=(
    "Assign catalog products to a taxonomy category and subcategory with an LLM or the local model, "
    "recording everything in a run folder."))
