"""The metrics part of a task: how a finished run is scored against its gold labels, and how analysis reads it.

Most tasks with one answer column take ``labnb.parts.one_answer.OneAnswerMetrics``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from labnb.parts.records import JsonValue

if TYPE_CHECKING:  # pandas is imported when a run is scored
    import pandas as pd


class Metrics(ABC):
    """Writes ``outputs/metrics.json``; scores weighted rows for streamed runs and rows for old runs."""

    # How analysis reads metrics.json: the per-label block with the word for its labels (a two-level task:
    # its upper level), and the key, in each per-label entry, of the share of that gold label's items whose
    # whole answer is right.
    per_label_metric: ClassVar[str] = "per_label"
    per_label_accuracy: ClassVar[str] = "recall"
    label_noun: ClassVar[str] = "label"
    summary_metrics: ClassVar[tuple[str, ...]] = ()  # metrics.json keys shown beside accuracy in run lists

    @abstractmethod
    def write_metrics(self, run_dir: Path) -> dict[str, JsonValue]:
        """Score a finished run against its gold labels; writes ``outputs/metrics.json`` and returns it."""

    def score(self, rows: pd.DataFrame) -> tuple[dict[str, JsonValue], pd.DataFrame]:
        """Metrics and confusion matrix of rows whose ``weight`` column counts how many rows each stands for
        (a streamed run sums them over its parts)."""
        raise NotImplementedError

    @classmethod
    def compute_metrics(cls, rows: pd.DataFrame) -> dict[str, JsonValue]:
        """Metrics of classifications rows with gold, for runs without a metrics.json ({}: none)."""
        return {}

    @classmethod
    def confusion_matrix(cls, rows: pd.DataFrame) -> pd.DataFrame | None:
        """Gold x predicted counts of classifications rows, or None."""
        return None
