"""A use case as an experiment sees it: its CLI entry and the columns of its run folders, from its task."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from labnb.registry import task_class

SRC = Path(__file__).resolve().parents[2]
SCORES = ("n", "accuracy", "accuracy_ci_low", "accuracy_ci_high")


@dataclass(frozen=True)
class UseCase:
    """How to run a use case (``labnb run <name>``) and read its tables."""

    name: str
    id_column: str
    text_column: str
    answer_columns: tuple[str, ...]
    gold_columns: tuple[str, ...]
    metrics: tuple[tuple[str, tuple[str, ...]], ...]  # leaderboard column -> metrics.json keys, first present wins

    @property
    def gate_metrics(self) -> tuple[str, ...]:
        return (*SCORES, *(column for column, _ in self.metrics))

    def command(self) -> list[str]:
        """The command line of one of its runs, before the run's options: ``python -m labnb run <name>``."""
        return [sys.executable, "-m", "labnb", "run", self.name]

    @staticmethod
    def environment() -> dict[str, str]:
        """The environment of that command: ``labnb`` importable from this source tree, installed or not."""
        path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)
        return {**os.environ, "PYTHONPATH": path}

    def build_parser(self) -> argparse.ArgumentParser:
        from labnb.run.cli import build_parser

        return build_parser(task_class(self.name), prog=f"labnb run {self.name}")


@cache
def use_case(name: str) -> UseCase:
    """The use case ``name`` (a one-line InputError when there is no such package)."""
    task = task_class(name)
    # The metrics the task shows beside accuracy, and macro F1 at the level accuracy is scored (its last column).
    finest = f"{task.answer_columns[-1]}_f1_macro"
    metrics = (*((m, (m,)) for m in task.summary_metrics), ("macro_f1", (finest, "macro_f1", "f1_macro")))
    return UseCase(task.name, task.id_column, task.text_column, tuple(task.answer_columns),
                   tuple(task.gold_columns), metrics)


def use_case_of(summary: dict[str, Any]) -> UseCase:
    """The use case a run folder's ``run_summary.json`` names (a one-line InputError when it names none)."""
    return use_case(str(summary.get("use_case") or ""))
