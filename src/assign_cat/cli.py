"""The assign-cat command line: the framework's CLI with the assign-cat task."""

from __future__ import annotations

import argparse

from assign_cat.task import AssignCat
from labnb.run import cli


def build_parser() -> argparse.ArgumentParser:
    return cli.build_parser(AssignCat, prog="run_assign_cat.py", description=(
        "Assign catalog products to a taxonomy category and subcategory with an LLM or the local model, "
        "recording everything in a run folder."))


def main(argv: list[str] | None = None) -> int:
    return cli.main(AssignCat(), build_parser(), argv)
