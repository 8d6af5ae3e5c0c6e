"""What --engine ray must give, for either task: the rows and scores of --engine process on the same input."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd


def table(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)


def assert_engines_agree(folders: dict[str, Path], id_column: str, ids: list[str], columns: Sequence[str],
                         n: int, bad: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs in ``folders`` (by engine) have the same columns, every item once in input order, equal
    ``columns``, confidences within 1e-6, the same metrics and confusion matrix, ``bad`` invalid rows of ``n``.
    Returns the process table and the Ray table."""
    local, ray = table(folders["process"]), table(folders["ray"])
    assert list(ray.columns) == list(local.columns)
    assert list(ray[id_column]) == ids == list(local[id_column])  # every item once, in input order
    for column in columns:
        assert list(ray[column]) == list(local[column]), column
    confidence = pd.to_numeric(ray["confidence"]) - pd.to_numeric(local["confidence"])
    assert confidence.abs().max() <= 1e-6
    metrics = {e: json.loads((f / "outputs" / "metrics.json").read_text()) for e, f in folders.items()}
    assert metrics["ray"] == metrics["process"]
    assert metrics["ray"]["status_counts"] == {"ok": n - bad, "invalid": bad, "error": 0, "not_run": 0}
    assert (folders["ray"] / "outputs" / "confusion_matrix.csv").read_text() == \
        (folders["process"] / "outputs" / "confusion_matrix.csv").read_text()
    return local, ray
