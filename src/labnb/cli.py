"""The ``labnb`` command: a thin dispatch to the parsers of runs, experiments and run analysis.

    labnb run TASK [options]      one run of a registered task (labnb run TASK --help)
    labnb tasks                   the registered tasks
    labnb experiment [options]    a grid of runs from one experiment spec
    labnb runs list|compare|report|diff|export|export-mlflow [options]
"""

from __future__ import annotations

import sys

from labnb.errors import LabError
from labnb.terminal import console

USAGE = (__doc__ or "").split("\n\n", 1)[1].rstrip()


def run(argv: list[str]) -> int:
    """``labnb run TASK …``: the task's own command line."""
    from labnb import registry
    from labnb.run import cli

    if not argv or argv[0].startswith("-"):
        console.error(f"give a task: labnb run TASK [options] (tasks: {', '.join(registry.registered())})")
        return 2
    task_class = registry.task_class(argv[0])
    _, run_task = cli.entry(task_class, prog=f"labnb run {argv[0]}")
    return int(run_task(argv[1:]))


def tasks() -> int:
    """``labnb tasks``: each registered task, where it lives and its docstring's first line."""
    from labnb import registry

    rows = []
    for entry in registry.registered().values():
        try:
            about = (entry.load().__doc__ or "").strip().splitlines()[0]
        except (LabError, IndexError) as exc:
            about = f"(cannot load: {exc})" if isinstance(exc, LabError) else ""
        rows.append((entry.name, entry.target, about))
    width = [max(len(row[i]) for row in rows) for i in (0, 1)] if rows else [0, 0]
    for name, target, about in rows:
        print(console.safe(f"{name.ljust(width[0])}  {target.ljust(width[1])}  {about}".rstrip()))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    try:
        if command == "run":
            return run(rest)
        if command == "tasks":
            return tasks()
        if command == "experiment":
            from labnb.experiments.cli import main as experiment

            return experiment(rest)
        if command == "runs":
            import analyze_runs  # src/analyze_runs.py: its parser, reused as is

            return int(analyze_runs.main(rest))
    except LabError as exc:
        console.error(exc)
        return exc.exit_code
    if command in ("-h", "--help"):
        print(f"usage:\n{USAGE}")
        return 0
    print(f"usage:\n{USAGE}", file=sys.stderr)
    console.error(f"unknown command {command!r}" if command else "give a command")
    return 2
