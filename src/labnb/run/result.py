"""What a finished (or stopped) run session hands back to the command line, and the exit codes."""

from __future__ import annotations

from dataclasses import dataclass

from labnb.store.runfolder import RunFolder

EXIT_INTERRUPTED = 130
EXIT_CODES = {"completed": 0, "completed_with_errors": 1, "budget_exhausted": 1, "interrupted": EXIT_INTERRUPTED,
              "failed": 3}


@dataclass
class RunResult:
    folder: RunFolder
    status: str
    exit_code: int
    summary_line: str
