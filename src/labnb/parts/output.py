"""The output part of a task: its own columns of ``classifications.csv`` and their values for one item.

The framework adds every column of its own (status, errors, latency, confidence, call id, gold
and ``correct``, a cascade's first model); a task cannot forget one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar, Generic

from labnb.parts.records import ItemT, TableColumns

if TYPE_CHECKING:
    from labnb.store.results import ItemResult


class OutputRow(ABC, Generic[ItemT]):
    """The task's columns (``table()``) and each item's values in them (``row()``)."""

    id_column: ClassVar[str]
    text_column: ClassVar[str]
    answer_columns: ClassVar[tuple[str, ...]] = ("label",)
    gold_columns: ClassVar[tuple[str, ...]] = ("expected_label",)
    cascading: bool = False  # set by the plan for --escalate-to: the table gets the first model's columns

    def table(self) -> TableColumns:
        """The task's own columns of classifications.csv (the framework adds status, errors, confidence…)."""
        return TableColumns(inputs=(self.id_column, self.text_column), answers=self.answer_columns,
                            gold=self.gold_columns)

    @abstractmethod
    def row(self, item: ItemT, result: ItemResult, with_gold: bool) -> dict[str, str]:
        """The values of the task's own columns (``table()``: inputs, answers, details, and gold when
        ``with_gold``) for one item's result; a column left out is empty."""

    def carried(self, item: ItemT) -> dict[str, str]:
        """The values of the input columns carried into classifications.csv (``table().carried``)."""
        return {}

    def answer_text(self, row: dict[str, str]) -> str:
        """A row's answer for people (a one-item run prints it), e.g. "Sports Nutrition > Whey Protein"."""
        return " > ".join(row.get(c, "") for c in self.answer_columns)
