"""The label-space part of a task: the numbered choices a model answers with, and which a request offers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, Generic

from labnb.parts.records import Choice, ItemT, JsonValue, Ranker


class LabelSpace(ABC, Generic[ItemT]):
    """The choices (numbered from 1 in the prompt), the subset a request offers, and how gold names one."""

    choice_noun: ClassVar[str] = "label"  # "k=… is not a <choice_noun> number of <choices_source>"
    choices_source: ClassVar[str] = "the label set"

    @abstractmethod
    def choices(self) -> dict[int, Choice]:
        """Every choice, by its number in the prompt (from 1, in a stable order)."""

    def describe(self) -> str:
        """The labels in a few words, for the dry run's first line."""
        return f"{len(self.choices())} labels"

    def gold_choice(self, item: ItemT) -> str | None:
        """The id of the choice that ``item``'s gold label names, or None."""
        return None

    def offered(self, items: Sequence[ItemT]) -> dict[int, Choice] | None:
        """The choices a request for ``items`` offers when it offers only some (candidate retrieval: its
        items' shortlists); the answer schema's enum then holds exactly their numbers. None: every choice,
        for any ``items`` (the framework asks ``offered([])`` to learn whether a task offers subsets)."""
        return None

    def request_record(self, items: Sequence[ItemT]) -> dict[str, JsonValue]:
        """Extra facts about a request for ``items`` (e.g. each item's shortlist), recorded in calls.jsonl."""
        return {}

    def ranker(self) -> Ranker | None:
        """The local model's ranking when the task indexes its choices itself (a deep label tree, over node
        paths); None: the framework's scoring of every choice. Loads the index on first use."""
        return None
