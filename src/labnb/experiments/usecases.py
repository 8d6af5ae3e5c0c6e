"""A use case as an experiment sees it: its CLI entry and the columns of its run folders, from its task."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from labnb.errors import InputError
from labnb.usecases import FIRST_USE_CASE, package_of, task_class

SRC = Path(__file__).resolve().parents[2]
# Leaderboard column -> the metrics.json keys that hold it, first present wins (absent: the column is left out).
METRIC_KEYS: dict[str, tuple[str, ...]] = {
    "category_accuracy": ("category_accuracy",),
    "macro_f1": ("subcategory_f1_macro", "macro_f1", "f1_macro", "label_f1_macro"),
}


@dataclass(frozen=True)
class UseCase:
    """How to run a use case (``src/run_<package>.py``, argparse in ``<package>.cli``) and read its tables."""

    name: str
    id_column: str
    text_column: str
    answer_columns: tuple[str, ...]
    gold_columns: tuple[str, ...]
    metrics: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def entry(self) -> Path:
        return SRC / f"run_{package_of(self.name)}.py"

    def cli(self) -> Any:
        return importlib.import_module(f"{package_of(self.name)}.cli")


@cache
def use_case(name: str) -> UseCase:
    """The use case ``name`` (a one-line InputError when there is no such package)."""
    task = task_class(name)
    has = ("category_accuracy",) if "category_accuracy" in task.summary_metrics else ()
    metrics = tuple((column, METRIC_KEYS[column]) for column in (*has, "macro_f1"))
    return UseCase(task.name, task.id_column, task.text_column, tuple(task.answer_columns),
                   tuple(task.gold_columns), metrics)


def use_case_of(summary: dict[str, Any]) -> UseCase:
    """The use case a run folder's ``run_summary.json`` names (folders that predate the field: the first one)."""
    try:
        return use_case(str(summary.get("use_case") or FIRST_USE_CASE))
    except InputError:
        return use_case(FIRST_USE_CASE)
