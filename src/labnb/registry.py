"""Find a task by its name. Tasks register under the entry-point group ``labnb.tasks``, as ``llm`` plugins do:

    [project.entry-points."labnb.tasks"]
    wordcount = "labnb_wordcount_task:WordCount"

The built-in tasks register the same way, in the project's own pyproject.toml. Run from a clone that is
not pip-installed (``python src/run_x.py``), the project's declarations are read from that file,
so the seed's commands keep working; installed packages' entry points are added to them (and win a clash).
Run folders name their task in ``run_summary.json`` (``use_case``).
"""

from __future__ import annotations

import importlib
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

from labnb.errors import InputError
from labnb.task import Task

GROUP = "labnb.tasks"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"  # a clone's (absent from an installed copy)
NAME_RE = re.compile(r"[a-z][a-z0-9-]{0,40}")


@dataclass(frozen=True)
class TaskEntry:
    """A registered task: its name and where it lives (``module:Class``)."""

    name: str
    target: str

    def load(self) -> type[Task]:
        """The task class; a target that names no ``Task`` is a one-line InputError."""
        module_name, _, attribute = self.target.partition(":")
        try:
            found = getattr(importlib.import_module(module_name), attribute, None)
        except ImportError as exc:
            raise InputError(f"task '{self.name}': cannot import {module_name} ({exc})") from None
        if not (isinstance(found, type) and issubclass(found, Task)):
            raise InputError(f"task '{self.name}': {self.target} is not a labnb Task")
        return found


def _checkout_tasks() -> dict[str, str]:
    if not PYPROJECT.is_file():
        return {}
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    declared = data.get("project", {}).get("entry-points", {}).get(GROUP, {})
    return {str(name): str(target) for name, target in declared.items()}


@cache
def registered() -> dict[str, TaskEntry]:
    """Every task by name, sorted: the clone's declarations, then installed entry points."""
    targets = _checkout_tasks()
    targets.update({ep.name: ep.value for ep in entry_points(group=GROUP)})
    return {name: TaskEntry(name, targets[name]) for name in sorted(targets)}


def task_class(name: str | None) -> type[Task]:
    """The task class registered as ``name``; an unknown one is a one-line InputError."""
    if not name:
        raise InputError("the run does not name its task (no use_case in run_summary.json)")
    if not NAME_RE.fullmatch(name):
        raise InputError(f"unknown task {name[:50]!r}")
    entry = registered().get(name)
    if entry is None:
        raise InputError(f"unknown task '{name}' (registered: {', '.join(registered()) or 'none'}; "
                         f"see labnb tasks)")
    return entry.load()
