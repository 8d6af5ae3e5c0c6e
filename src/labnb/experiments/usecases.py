"""The one table that maps a use case to its CLI entry and to the columns of its run folders."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class UseCase:
    """How to run a use case and read its ``classifications.csv``."""

    name: str
    script: str  # under src/
    cli_module: str  # has build_parser() and main(argv)
    id_column: str
    text_column: str
    answer_columns: tuple[str, ...]
    gold_columns: tuple[str, ...]
    # leaderboard column -> metrics.json keys to try, first present wins
    metrics: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def entry(self) -> Path:
        return SRC / self.script

    def cli(self) -> Any:
        return importlib.import_module(self.cli_module)


USE_CASES: dict[str, UseCase] = {u.name: u for u in (
    UseCase("assign-cat", "run_assign_cat.py", "assign_cat.cli", "product_id", "title", ("category", "subcategory"),
            ("expected_category", "expected_subcategory"),
            (("category_accuracy", ("category_accuracy",)), ("macro_f1", ("subcategory_f1_macro", "f1_macro")))),
    UseCase("classify-text", "run_classify_text.py", "classify_text.cli", "item_id", "text", ("label",),
            ("expected_label",), (("macro_f1", ("macro_f1", "f1_macro", "label_f1_macro")),)),
)}


def use_case_of(summary: dict[str, Any]) -> UseCase:
    """The use case a run folder's ``run_summary.json`` names (assign-cat for folders that predate the field)."""
    return USE_CASES.get(str(summary.get("use_case") or "assign-cat"), USE_CASES["assign-cat"])
