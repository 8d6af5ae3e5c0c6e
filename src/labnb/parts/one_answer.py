"""Scores of a task with one answer column: accuracy, macro and weighted F1, per-choice scores, confusion matrix.

The rules are ``labnb.scoring``'s; the choices give the per-label order and names, the task's
``table()`` the answer and gold columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from labnb.flat.labels import Label, LabelSet
from labnb.task import ItemT, JsonValue, OptionsT, Task

if TYPE_CHECKING:  # pandas is imported when a run is scored
    import pandas as pd

    from labnb.flat.metrics import Scored


class OneAnswerMetrics(Task[ItemT, OptionsT]):
    """``write_metrics`` and friends for a task whose ``table()`` has one answer column and its gold."""

    def scored_labels(self) -> LabelSet:
        """The choices as a label set, in choice order (for the per-label block and the matrix)."""
        labels = tuple(Label(c.id, c.name, c.description) for c in self.choices().values())
        return LabelSet(self.name, "", "", labels)

    @classmethod
    def _columns(cls) -> Scored:
        from labnb.flat.metrics import Scored

        return Scored(cls.answer_columns[0], cls.gold_columns[0], cls.id_column)

    def write_metrics(self, run_dir: Path) -> dict[str, JsonValue]:
        from labnb.flat.metrics import write_metrics

        return write_metrics(run_dir, self.scored_labels(), self._columns())

    def score(self, rows: pd.DataFrame) -> tuple[dict[str, JsonValue], pd.DataFrame]:
        """Metrics and confusion matrix of (weighted) rows, as ``write_metrics`` writes them."""
        from labnb.flat.metrics import compute_metrics, confusion_matrix

        labels, columns = self.scored_labels(), self._columns()
        return compute_metrics(rows, labels, columns), confusion_matrix(rows, labels, columns)

    @classmethod
    def compute_metrics(cls, rows: pd.DataFrame) -> dict[str, JsonValue]:
        from labnb.flat.metrics import compute_metrics

        return compute_metrics(rows, None, cls._columns())

    @classmethod
    def confusion_matrix(cls, rows: pd.DataFrame) -> pd.DataFrame | None:
        from labnb.flat.metrics import confusion_matrix

        return confusion_matrix(rows, None, cls._columns())
