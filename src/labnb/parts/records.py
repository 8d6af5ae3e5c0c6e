"""The records that cross the line between a task and the framework: labels, choices, items, table columns.

``labnb.task`` re-exports them; a task author imports them from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeAlias, TypeVar

if TYPE_CHECKING:
    from labnb.local.retrieval import RetrievalIndex
    from labnb.run.options import RunOptions


@dataclass(frozen=True)
class Label:
    """A label as a label file names it: an id, a name for people and a description for models."""

    id: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class Group:
    """A parent of choices (the upper level of a two-level label tree); the local model scores it too."""

    id: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class Choice:
    """One answer a model may give, numbered ``code`` in the prompt; ``answer`` holds the output columns."""

    code: int
    id: str
    name: str
    description: str = ""
    answer: dict[str, str] = field(default_factory=dict)
    group: Group | None = None


@dataclass(frozen=True)
class Ranker:
    """How the local model ranks a task's choices when the task indexes them itself (a deep label tree):
    ``pool`` holds the rows of ``index`` that may be answered, ``codes`` the choice number of each, in order.
    Items are matched on their full text (``labnb.classify.similarity.item_texts``)."""

    index: RetrievalIndex
    pool: list[int]
    codes: list[int]


JsonValue: TypeAlias = "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"


# The framework's own columns of every classifications.csv, after the task's inputs and answers.
FRAMEWORK_COLUMNS = ("raw_response", "model_used", "status", "error_type", "error", "latency_ms", "confidence",
                     "call_id")


@dataclass(frozen=True)
class TableColumns:
    """A task's own columns of ``classifications.csv``. The framework adds the rest, in this order:
    ``inputs``, ``answers``, the framework's columns (``raw_response`` … ``call_id``, see
    ``labnb.run.outputs``), ``details``, then with gold ``gold`` and ``correct``, then ``carried``
    (renamed ``input_<name>`` where they clash) and, in a cascade, the first model's columns."""

    inputs: tuple[str, ...]  # the item's id and text
    answers: tuple[str, ...]  # the answer; ``correct`` is every answer column equal to its gold column
    details: tuple[str, ...] = ()  # more about the answer (e.g. a node's path)
    gold: tuple[str, ...] = ()  # the gold of each answer column, in the same order
    carried: tuple[str, ...] = ()  # input columns carried along as given


class Item(Protocol):
    """What the framework needs of an item: its id, its main text and offered fields, whether it has gold."""

    @property
    def item_id(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def extra(self) -> dict[str, str]: ...

    @property
    def has_gold(self) -> bool: ...

    def to_dict(self) -> dict[str, JsonValue]: ...


ItemT = TypeVar("ItemT", bound=Item)


OptionsT = TypeVar("OptionsT", bound="RunOptions")
