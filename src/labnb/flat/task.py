"""``classify``: texts in, one label of a flat label set out. Any label file runs with no Python of its own.

The label set is data (``--labels FILE``, see ``labnb.flat.labels``); the input columns are options
(``--text-column``, repeatable, ``--id-column``, ``--gold-column``); the prompt is the shipped prompt
file (``labnb.parts.prompt_file``) and the scores are those of one answer column (``labnb.parts.one_answer``).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from itertools import chain
from pathlib import Path
from typing import ClassVar

from labnb.errors import UsageError
from labnb.flat.items import (
    GOLD_COLUMN,
    ID_COLUMN,
    TEXT_COLUMN,
    TextColumns,
    TextItem,
    check_gold,
    load_items,
    single_text,
)
from labnb.flat.labels import LabelSet, load_labels
from labnb.flat.labels_from_column import gold_from_column, label_set_from, label_set_yaml
from labnb.flat.streamed import LABELS_SNAPSHOT, StreamedTexts
from labnb.inputs.labelcols import parse_fields
from labnb.inputs.labelspace import built_note
from labnb.parts.one_answer import OneAnswerMetrics
from labnb.parts.prompt_file import PromptFromFile
from labnb.prompting import answer_format_text
from labnb.run.options import RunOptions
from labnb.store.jsonio import read_json
from labnb.store.results import ItemResult
from labnb.store.runfolder import RunFolder
from labnb.task import Choice, JsonValue, TableColumns


@dataclass(frozen=True)
class ClassifyOptions(RunOptions):
    """The framework's options plus what to label (``--single-text``), the label set and the input columns."""

    single_text: str | None = None
    labels: str | None = None
    text_column: tuple[str, ...] = (TEXT_COLUMN,)
    id_column: str = ID_COLUMN
    gold_column: str = GOLD_COLUMN
    sheet: str | None = None
    labels_from_column: str | None = None  # the label set read from this column of the input and examples

    def __post_init__(self) -> None:
        # run_config.json of older runs holds one name; the command line gives a list
        given = self.text_column
        object.__setattr__(self, "text_column", (given,) if isinstance(given, str) else tuple(given))

    @classmethod
    def single_option(cls) -> str:
        return "single_text"

    def check(self) -> None:
        super().check()
        if self.labels_from_column is not None:
            default = next(f.default for f in fields(self) if f.name == "labels")
            if self.labels != default:
                raise UsageError("give --labels FILE or --labels-from-column NAME, not both")
            if self.input is None:
                raise UsageError("--labels-from-column reads the labels from --input FILE; give one")
            if self.gold_column not in (GOLD_COLUMN, self.labels_from_column):
                raise UsageError("give --gold-column or --labels-from-column, not both: the label column is the gold")
        elif self.labels is None:
            raise UsageError("give the label set with --labels FILE (a YAML file, e.g. config/labels/intent.yaml)")
        if len(set(self.text_column)) != len(self.text_column):
            raise UsageError(f"--text-column names a column twice: {', '.join(self.text_column)}")

    @property
    def columns(self) -> TextColumns:
        return TextColumns(self.text_column, self.id_column, self.gold_column)


class Classify(StreamedTexts, PromptFromFile[TextItem, ClassifyOptions], OneAnswerMetrics[TextItem, ClassifyOptions]):
    """One label of a flat label set for each text; the run is named for the label set."""

    name = "classify"
    item_noun = "item"
    id_column = "item_id"
    items_file = "items.json"
    script = "labnb run classify"
    options_class = ClassifyOptions
    prompt_file = Path(__file__).with_name("classify.yaml")  # the only copy of the built-in prompt
    prompt_extra_variables = ("label_set",)
    answer_noun: ClassVar[str] = "text"  # the answer format's word for an item: "one entry per text"

    def __init__(self) -> None:
        self.label_set: LabelSet | None = None
        self.labels_path: Path | None = None
        self.carried_columns: tuple[str, ...] = ()
        self.columns = TextColumns()  # the run's input columns: --examples FILE is read with them too
        self.label_column: str | None = None  # --labels-from-column
        self.labels_source: bytes | None = None  # the YAML built from it (snapshotted as inputs/labels.yaml)

    @classmethod
    def add_arguments(cls, what: argparse._ArgumentGroup, files: argparse._ArgumentGroup) -> None:
        what.add_argument("--single-text", metavar="TEXT", help="label one text")
        what.add_argument("--text-column", action="append", metavar="NAME", help=(
            f"an input column holding the text (default {TEXT_COLUMN}); repeat it to show several, "
            "as 'name: value | name: value'"))
        what.add_argument("--id-column", metavar="NAME", help=f"the input column holding ids (default {ID_COLUMN})")
        what.add_argument("--gold-column", metavar="NAME",
                          help=f"the input column holding gold labels (default {GOLD_COLUMN})")
        what.add_argument("--sheet", metavar="NAME", help="the sheet of an .xlsx input (default: the first)")
        default = cls.options_class().labels
        files.add_argument("--labels", metavar="FILE", help="the label set (YAML)" + (
            f" (default {default})" if default else "; see config/labels/"))
        files.add_argument("--labels-from-column", metavar="NAME", help=(
            "no labels file: the label set is every value this column of --input and --examples holds (ids "
            "slugged from them); the column is the gold label"))

    def run_prefix(self) -> str:
        return self._labels.name  # runs/<label set name>-<date>-<time>/

    def _use_labels(self, path: Path) -> None:
        self.labels_path, self.label_set = path, load_labels(path)
        self.__dict__.pop("_choices", None)

    @property
    def _labels(self) -> LabelSet:
        if self.label_set is None:
            raise RuntimeError("the label set is loaded by load() or load_snapshot() first")
        return self.label_set

    def load(self, options: ClassifyOptions) -> list[TextItem]:
        self.columns = options.columns
        if options.labels_from_column:
            return self._load_from_column(options)
        assert options.labels is not None  # checked by ClassifyOptions.check
        self._use_labels(Path(options.labels))
        if options.input is None:
            return single_text(options.single_text or "")
        items = load_items(Path(options.input), options.columns, sheet=options.sheet, limit=options.limit,
                           fields=parse_fields(options.fields), label_words=(self._labels.name,))
        return self._carry(check_gold(items, self._labels).items)  # gold written as label names becomes ids

    def _load_from_column(self, options: ClassifyOptions) -> list[TextItem]:
        """The input, and a label set built from its label column and the examples' (every label of both)."""
        assert options.input is not None and options.labels_from_column is not None
        self.label_column = options.labels_from_column
        items = self._labelled(load_items(Path(options.input), self.columns, sheet=options.sheet,
                                          fields=parse_fields(options.fields)), options.input)
        self._labels_from_values((item.expected_label for item in items), options)
        items = check_gold(items, self._labels).items
        return self._carry(items[: options.limit] if options.limit is not None else items)

    def _labels_from_values(self, values: Iterable[str], options: ClassifyOptions) -> None:
        """The label set of --labels-from-column: the input's label cells (``values``, every row, whatever
        --limit says) then the examples' labels, in first-seen order; snapshotted as a labels YAML."""
        assert options.input is not None and self.label_column is not None  # set first: examples are read with it
        examples = self._labelled(load_items(Path(options.examples), self.columns), options.examples) \
            if options.examples else []
        self.label_set = label_set_from(chain(values, (e.expected_label for e in examples)), Path(options.input).stem)
        self.labels_source = label_set_yaml(self.label_set, built_note("--labels-from-column", self.label_column,
                                                                       options.input, options.examples))
        self.labels_path = None
        self.__dict__.pop("_choices", None)

    def _labelled(self, items: list[TextItem], source: str | Path) -> list[TextItem]:
        """``items`` with the --labels-from-column column as their gold when it is in use."""
        if self.label_column is None:
            return items
        return gold_from_column(items, self.label_column, source, self.columns.gold)

    def _carry(self, items: list[TextItem]) -> list[TextItem]:
        self.carried_columns = tuple(dict.fromkeys(key for item in items for key in (*item.extra, *item.withheld)))
        return items

    def load_snapshot(self, folder: RunFolder, options: ClassifyOptions) -> list[TextItem]:
        self._use_labels(folder.file(LABELS_SNAPSHOT))
        self.columns = options.columns
        self.label_column = options.labels_from_column  # examples are read as the run read them
        return self._carry([TextItem.from_dict(item) for item in read_json(folder.file(f"inputs/{self.items_file}"))])

    def snapshot(self, folder: RunFolder) -> None:
        if self.labels_source is not None:
            folder.file(LABELS_SNAPSHOT).write_bytes(self.labels_source)
            return
        assert self.labels_path is not None
        folder.copy_in(self.labels_path, LABELS_SNAPSHOT)

    def config_paths(self) -> dict[str, JsonValue]:
        if self.labels_source is not None:
            return {"labels_path": LABELS_SNAPSHOT, "labels_from_column": self.label_column}
        return {"labels_path": str(self.labels_path)}

    def gold_warning(self, items: Sequence[TextItem]) -> str | None:
        return check_gold(items, self._labels).warning or None

    def describe(self) -> str:
        return f"label set '{self._labels.name}' ({len(self._labels.labels)} labels)"

    @cached_property
    def _choices(self) -> dict[int, Choice]:
        return {k: Choice(k, label.id, label.name, label.description, {"label": label.id})
                for k, label in self._labels.codes.items()}

    def choices(self) -> dict[int, Choice]:
        return self._choices

    def answer_text(self, row: dict[str, str]) -> str:
        return next((lab.name for lab in self._labels.labels if lab.id == row.get("label")), row.get("label", ""))

    def read_items(self, path: Path) -> list[TextItem]:
        return check_gold(self._labelled(load_items(path, self.columns), path), self._labels).items

    def gold_choice(self, item: TextItem) -> str | None:
        return item.expected_label if item.expected_label in self._labels.ids else None

    def prompt_variables(self, *, explain: bool = False) -> dict[str, JsonValue]:
        labels = self._labels
        return {**super().prompt_variables(explain=explain),
                "label_set": {"name": labels.name, "version": labels.version, "description": labels.description},
                "answer_format": answer_format_text(self.answer_noun, "label", explain=explain)}

    # --- outputs -------------------------------------------------------------------------------------------
    def table(self) -> TableColumns:
        return TableColumns(inputs=("item_id", "text"), answers=("label",), gold=("expected_label",),
                            carried=self.carried_columns)

    def row(self, item: TextItem, result: ItemResult, with_gold: bool) -> dict[str, str]:
        row = {"item_id": item.item_id, "text": item.text, "label": result.answer.get("label", "")}
        return {**row, "expected_label": item.expected_label} if with_gold else row

    def carried(self, item: TextItem) -> dict[str, str]:
        return {**item.withheld, **item.extra}


TASK = Classify
