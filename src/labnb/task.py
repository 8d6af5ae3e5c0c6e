"""The interface between the run framework and a use case: a ``Task`` composed of five typed parts.

* ``Inputs`` (``labnb.parts.inputs``): loads items and label files, whole or part by part;
* ``LabelSpace`` (``labnb.parts.labelspace``): the numbered choices, and which a request offers;
* ``Prompt`` (``labnb.parts.prompt``): the system prefix and the user turn;
* ``OutputRow`` (``labnb.parts.output``): the task's own columns of ``classifications.csv``;
* ``Metrics`` (``labnb.parts.metrics``): the scores of a finished run.

Ready-made implementations a task mixes in: ``labnb.parts.prompt_file.PromptFromFile`` (the
prompt from the task's prompt file, its only copy) and ``labnb.parts.one_answer.OneAnswerMetrics``
(the scores of one answer column). Everything else (the run folder, concurrency, retries,
resume, batch APIs, dry runs, the framework's columns, finalizing) is the framework's, written
once in ``labnb.run``. The records crossing the line live in ``labnb.parts.records`` and are
re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol

from labnb.parts.inputs import Inputs
from labnb.parts.labelspace import LabelSpace
from labnb.parts.metrics import Metrics
from labnb.parts.output import OutputRow
from labnb.parts.prompt import Prompt
from labnb.parts.records import (
    FRAMEWORK_COLUMNS,
    Choice,
    Group,
    Item,
    ItemT,
    JsonValue,
    Label,
    OptionsT,
    Ranker,
    TableColumns,
)

if TYPE_CHECKING:
    from labnb.fewshot import ExampleSet, Leakage
    from labnb.run.options import RunOptions
    from labnb.store.runfolder import RunFolder

__all__ = ["FRAMEWORK_COLUMNS", "Choice", "Group", "Item", "ItemT", "JsonValue", "Label", "OptionsT", "Ranker",
           "RunPrompting", "TableColumns", "Task"]


class RunPrompting(Protocol):
    """A run's prompt file and examples as the framework uses them (``labnb.prompting.setup.Prompting``)."""

    examples: ExampleSet | None
    leakage: Leakage

    def system(self, task: Task, *, explain: bool) -> str: ...

    def user(self, task: Task, items: Sequence[Item], *, explain: bool) -> str: ...

    def example_ids(self, items: Sequence[Item]) -> list[str]: ...

    def record(self, system: str) -> dict[str, JsonValue]: ...

    def snapshot(self, folder: RunFolder) -> None: ...

    def summary(self) -> dict[str, JsonValue]: ...

    def warning(self, noun: str) -> str | None: ...


class Task(Inputs[ItemT, OptionsT], LabelSpace[ItemT], Prompt[ItemT], OutputRow[ItemT], Metrics,
           Generic[ItemT, OptionsT]):
    """A use case: its name and options, and the five parts. Subclasses set the class attributes and
    implement each part's abstract methods, or mix in the ready-made parts."""

    script: ClassVar[str]  # how users start it, for the hints the framework prints
    options_class: ClassVar[type[RunOptions]]  # the options (a subclass of RunOptions) this task runs with
    labels_option: ClassVar[str] = "labels"  # the option naming the label file, shown by run lists
    prompting: RunPrompting | None = None  # the run's --prompt/--examples, set by the plan (None: built-in prompt)

    @property
    def items_noun(self) -> str:
        return f"{self.item_noun}s"

    def run_prefix(self) -> str:
        """The run-id prefix; by default the use case's name."""
        return self.name

    def for_inputs(self, options: OptionsT, folder: RunFolder | None = None) -> Task[ItemT, OptionsT]:
        """The task that runs these inputs: this one, or, for a use case with several kinds of label file,
        the task of the kind ``options`` name (``folder``: of a run folder's own snapshot, for resume and
        replay). The framework asks before loading anything."""
        return self

    def whole(self) -> Task[ItemT, OptionsT] | None:
        """The same task offering every choice in every request, to price what retrieval saves; None when
        it already does."""
        return None
