"""What a finished (or stopped) run session hands back to the command line, and the exit codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from labnb.store.runfolder import RunFolder

if TYPE_CHECKING:
    from labnb.task import Task

EXIT_INTERRUPTED = 130
EXIT_CODES = {"completed": 0, "completed_with_errors": 1, "budget_exhausted": 1, "interrupted": EXIT_INTERRUPTED,
              "failed": 3}


@dataclass
class RunResult:
    folder: RunFolder
    status: str
    exit_code: int
    summary_line: str
    task: Task | None = None  # the task that ran (a use case with several kinds of label file: the chosen one)
