"""Runs from Python: ``run(task, data, **options)`` writes the usual run folder and returns its results.

    from classify_text.task import ClassifyText
    from labnb.api import run
    df = run(ClassifyText(), "data/sample_reviews.csv", model="local")   # or a DataFrame
    df.attrs["path"], df.attrs["metrics"]
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from labnb.run.plan import prepare
from labnb.run.runner import run_new
from labnb.store import runlock
from labnb.task import Task


def run(task: Task, data: Any, **options: Any) -> Any:
    """Classify ``data`` (a DataFrame, or a path to an input file) with ``task``; returns ``load_run``'s DataFrame.

    ``options`` are the command line's long names with underscores (``model``, ``batch_size``, ``labels``…).
    Bad input raises a ``LabError`` subclass with the same one-line message the command line prints.
    """
    import pandas as pd

    from labnb.analysis.runs import load_run

    if isinstance(data, pd.DataFrame):
        with tempfile.TemporaryDirectory(prefix="labnb-") as tmp:
            path = Path(tmp) / "dataframe.csv"
            data.to_csv(path, index=False)  # through the file reader, so a DataFrame gets the same checks
            plan = prepare(task, task.options_class(**options, input=str(path)))
        plan.input_path = None  # the temporary file is gone; inputs/ holds the items
        plan.options = replace(plan.options, input="(DataFrame)")
    else:
        plan = prepare(task, task.options_class(**options, input=str(data)))
    try:
        result = run_new(plan, ["labnb.api.run", type(task).__name__])
    finally:
        runlock.release_all()  # a notebook process lives on: let other processes continue the run
    return load_run(result.folder.path)
