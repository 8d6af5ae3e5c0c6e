"""The interface between the run framework and a use case: what a ``Task`` supplies, and nothing more.

A task names itself and its items, loads items (with optional gold labels) and its label
inputs, snapshots them into ``inputs/``, offers numbered ``Choice``s, renders the stable
system prefix and the per-batch user turn, and maps results to output rows and metrics.
Everything else (the run folder, concurrency, retries, resume, batch APIs, dry runs,
finalizing) is the framework's, written once in ``labnb.run``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeAlias, TypeVar

if TYPE_CHECKING:
    import argparse

    import pandas as pd

    from labnb.fewshot import ExampleSet, Leakage
    from labnb.local.retrieval import RetrievalIndex
    from labnb.run.options import RunOptions
    from labnb.store.results import ItemResult
    from labnb.store.runfolder import RunFolder


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
OptionsT = TypeVar("OptionsT", bound="RunOptions")


class Task(ABC, Generic[ItemT, OptionsT]):
    """A use case. Subclasses set the class attributes and implement the abstract methods, or compose the
    parts of ``labnb.parts`` that implement them: ``PromptFromFile`` (the prompt, from the task's prompt
    file: its only copy) and ``OneAnswerMetrics`` (the scores of one answer column)."""

    name: ClassVar[str]  # the use case, the run-id prefix by default
    item_noun: ClassVar[str]  # keys such as <noun>s_processed and messages use it
    id_column: ClassVar[str]  # the id column of classifications.csv
    items_file: ClassVar[str]  # the snapshot of the items under inputs/
    script: ClassVar[str]  # how users start it, for the hints the framework prints
    choice_noun: ClassVar[str] = "label"  # "k=… is not a <choice_noun> number of <choices_source>"
    choices_source: ClassVar[str] = "the label set"
    options_class: ClassVar[type[RunOptions]]  # the options (a subclass of RunOptions) this task runs with
    # How analysis reads its classifications.csv: the main text, the answer and gold columns, and the
    # per-label block of metrics.json with the word for its labels (a two-level task: its upper level).
    text_column: ClassVar[str] = "text"
    answer_columns: ClassVar[tuple[str, ...]] = ("label",)
    gold_columns: ClassVar[tuple[str, ...]] = ("expected_label",)
    per_label_metric: ClassVar[str] = "per_label"
    # the key, in each per-label entry, of the share of that gold label's items whose whole answer is right
    per_label_accuracy: ClassVar[str] = "recall"
    label_noun: ClassVar[str] = "label"
    summary_metrics: ClassVar[tuple[str, ...]] = ()  # metrics.json keys shown beside accuracy in run lists
    # Prompt files and examples (--prompt, --examples): the task's shipped prompt file (rendering it gives
    # the built-in prompt byte for byte) and the template variables of its own besides the generic ones.
    prompt_file: ClassVar[Path | None] = None
    prompt_extra_variables: ClassVar[tuple[str, ...]] = ()
    prompt_text_chars: ClassVar[int | None] = None  # where the built-in prompt cuts an item's main text
    prompting: RunPrompting | None = None  # the run's --prompt/--examples, set by the plan (None: built-in prompt)
    cascading: bool = False  # set by the plan for --escalate-to: the table gets the first model's columns
    labels_option: ClassVar[str] = "labels"  # the option naming the label file, shown by run lists

    @property
    def items_noun(self) -> str:
        return f"{self.item_noun}s"

    def run_prefix(self) -> str:
        """The run-id prefix; by default the use case's name."""
        return self.name

    # --- inputs ---------------------------------------------------------------------------------
    def for_inputs(self, options: OptionsT, folder: RunFolder | None = None) -> Task[ItemT, OptionsT]:
        """The task that runs these inputs: this one, or, for a use case with several kinds of label file,
        the task of the kind ``options`` name (``folder``: of a run folder's own snapshot, for resume and
        replay). The framework asks before loading anything."""
        return self

    @classmethod
    def add_arguments(cls, what: argparse._ArgumentGroup, files: argparse._ArgumentGroup) -> None:
        """The task's own command-line options (what to classify, label files)."""

    @abstractmethod
    def load(self, options: OptionsT) -> list[ItemT]:
        """Load the label inputs and the items of a new run; problems are one-line ``InputError``s."""

    @abstractmethod
    def load_snapshot(self, folder: RunFolder, options: OptionsT) -> list[ItemT]:
        """The same from a run folder's own snapshot (resume, replay): today's files are ignored."""

    @abstractmethod
    def snapshot(self, folder: RunFolder) -> None:
        """Copy the label inputs into ``inputs/`` (the items are written by the framework)."""

    def config_paths(self) -> dict[str, JsonValue]:
        """Paths recorded in ``run_config.json`` besides the input file (e.g. a label file)."""
        return {}

    def gold_warning(self, items: Sequence[ItemT]) -> str | None:
        """A warning for gold labels that can never be scored right, or None."""
        return None

    def describe(self) -> str:
        """The labels in a few words, for the dry run's first line."""
        return f"{len(self.choices())} labels"

    def read_items(self, path: Path) -> list[ItemT]:
        """Items of a file in the task's input format, with their gold (``--examples FILE``)."""
        raise NotImplementedError(f"{self.name} does not read examples files")

    def gold_choice(self, item: ItemT) -> str | None:
        """The id of the choice that ``item``'s gold label names, or None."""
        return None

    def dry_run_notes(self) -> list[str]:
        """Notes the dry run adds to its first line (e.g. which input columns the model sees)."""
        return []

    # --- streamed runs (``--engine``, labnb.scale) -------------------------------------------------
    def load_labels(self, options: OptionsT, folder: RunFolder | None = None) -> None:
        """Load the label inputs of a streamed run (its items are read part by part, never all at once);
        from ``folder``'s snapshot when continuing a run."""
        from labnb.errors import UsageError

        raise UsageError(f"{self.name} does not run on --engine yet; drop --engine")

    def stream_refusal(self, options: OptionsT) -> str | None:
        """Why a streamed run cannot honour ``options`` (a one-line message), or None; a large input is then
        not streamed without ``--engine``."""
        return None

    def stream_columns(self, columns: Sequence[str], options: OptionsT) -> bool:
        """Set up the output columns from the input's ``columns``; whether the input has gold columns."""
        raise NotImplementedError

    def items_of_rows(self, path: Path, rows: list[tuple[int, dict[str, object]]], options: OptionsT,
                      first_index: int) -> list[ItemT]:
        """The items of numbered rows of one part of ``path`` (``first_index``: the file position of the
        first, for default ids); a bad row is a one-line InputError."""
        raise NotImplementedError

    def bare_item(self, item_id: str, text: str) -> ItemT:
        """An item standing for a malformed row in its ``invalid`` output row."""
        raise NotImplementedError

    def raw_cells(self) -> tuple[str, str, str]:
        """The input columns a malformed row's id and text are read from, and the prefix of ids by position."""
        return self.id_column, self.text_column, getattr(self, "id_prefix", "") or self.item_noun[0]

    # --- requests -------------------------------------------------------------------------------
    @abstractmethod
    def choices(self) -> dict[int, Choice]:
        """Every choice, by its number in the prompt (from 1, in a stable order)."""

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

    def whole(self) -> Task[ItemT, OptionsT] | None:
        """The same task offering every choice in every request, to price what retrieval saves; None when
        it already does."""
        return None

    # The prompt: labnb.parts.prompt.PromptFromFile renders the task's prompt file (most tasks use it).
    @abstractmethod
    def render_system(self, *, explain: bool = False) -> str:
        """The stable prefix of every request: instructions and the numbered choices."""

    @abstractmethod
    def render_user(self, items: Sequence[ItemT]) -> str:
        """The per-request part: the batch's items, numbered from 1."""

    def answer_text(self, row: dict[str, str]) -> str:
        """A row's answer for people (a one-item run prints it), e.g. "Sports Nutrition > Whey Protein"."""
        return " > ".join(row.get(c, "") for c in self.answer_columns)

    @abstractmethod
    def prompt_templates(self, *, explain: bool = False) -> dict[str, JsonValue]:
        """The templates behind the prompts, for ``inputs/prompt_templates.json``."""

    def prompt_variables(self, *, explain: bool = False) -> dict[str, JsonValue]:
        """The task's template variables: ``labels`` (its numbered listing) and its ``prompt_extra_variables``."""
        return {}

    def batch_variables(self, items: Sequence[ItemT]) -> dict[str, JsonValue]:
        """Variables of its own (named in ``prompt_extra_variables``) the user template gets for ``items``,
        e.g. the candidates this request offers."""
        return {}

    def prompt_file_refusal(self) -> str | None:
        """Why this task's requests cannot be rendered from ``--prompt``/``--examples`` (None: they can);
        the framework refuses the run with it when an LLM would render one."""
        return None

    # --- outputs --------------------------------------------------------------------------------
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

    # The scores: labnb.parts.metrics.OneAnswerMetrics scores one answer column (most tasks use it).
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
