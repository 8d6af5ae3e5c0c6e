"""Find a use case's task by its name: use case ``x-y`` is the package ``x_y`` whose ``task`` module has ``TASK``.

A new use case is a new package; nothing here changes. Run folders name their use case in
``run_summary.json``.
"""

from __future__ import annotations

import importlib
import re

from labnb.errors import InputError
from labnb.task import Task


def package_of(use_case: str) -> str:
    return use_case.replace("-", "_")


def task_class(use_case: str | None) -> type[Task]:
    """The task class of ``use_case``; an unknown one is a one-line InputError."""
    name = use_case or ""
    if not name:
        raise InputError("the run does not name its use case (no use_case in run_summary.json)")
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,40}", name):
        raise InputError(f"unknown use case {name[:50]!r}")
    try:
        module = importlib.import_module(f"{package_of(name)}.task")
    except ModuleNotFoundError:
        raise InputError(f"unknown use case '{name}' (no package {package_of(name)})") from None
    task = getattr(module, "TASK", None)
    if not (isinstance(task, type) and issubclass(task, Task)):
        raise InputError(f"use case '{name}': {package_of(name)}.task has no TASK")
    return task
