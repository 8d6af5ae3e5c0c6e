"""classify-text as a framework task: short texts in, one label of a flat label set out."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from classify_text import prompts
from classify_text.items import TextItem, check_gold, load_items, single_text
from classify_text.labels import LabelSet, load_labels
from labnb.inputs.labelcols import parse_fields
from labnb.prompting import answer_format_text
from labnb.run.options import PROJECT_ROOT, RunOptions
from labnb.store.jsonio import read_json
from labnb.store.results import ItemResult
from labnb.store.runfolder import RunFolder
from labnb.task import Choice, Task

COLUMNS = ["item_id", "text", "label", "raw_response", "model_used", "status", "error_type", "error",
           "latency_ms", "call_id"]
GOLD_COLUMNS = ["expected_label", "correct"]
DEFAULT_LABELS = PROJECT_ROOT / "config" / "labels" / "sentiment.yaml"


@dataclass(frozen=True)
class ClassifyTextOptions(RunOptions):
    """The framework's options plus what to label (``--single-text``), the label set and the text column."""

    single_text: str | None = None
    labels: str = str(DEFAULT_LABELS)
    text_column: str = "text"

    @classmethod
    def single_option(cls) -> str:
        return "single_text"


class ClassifyText(Task):
    name = "classify-text"
    item_noun = "item"
    id_column = "item_id"
    items_file = "items.json"
    script = "python src/run_classify_text.py"
    choice_noun = "label"
    choices_source = "the label set"
    options_class = ClassifyTextOptions
    metrics_module = "classify_text.metrics"
    prompts_module = "classify_text.prompts"
    prompt_file = PROJECT_ROOT / "config" / "prompts" / "classify-text.yaml"
    prompt_extra_variables = ("label_set",)

    def __init__(self) -> None:
        self.label_set: LabelSet | None = None
        self.labels_path: Path | None = None

    @classmethod
    def add_arguments(cls, what: argparse._ArgumentGroup, files: argparse._ArgumentGroup) -> None:
        what.add_argument("--single-text", metavar="TEXT", help="label one text")
        what.add_argument("--text-column", metavar="NAME", help="the input column holding the text (default text)")
        files.add_argument("--labels", metavar="FILE", help=f"label set YAML (default {DEFAULT_LABELS})")

    def run_prefix(self) -> str:
        return self._labels.name  # runs/sentiment-<date>-<time>/

    def _use_labels(self, path: Path) -> None:
        self.labels_path, self.label_set = path, load_labels(path)
        self.__dict__.pop("_choices", None)

    @property
    def _labels(self) -> LabelSet:
        if self.label_set is None:
            raise RuntimeError("the label set is loaded by load() or load_snapshot() first")
        return self.label_set

    def load(self, options: RunOptions) -> list[TextItem]:
        assert isinstance(options, ClassifyTextOptions)
        self._use_labels(Path(options.labels))
        if options.input is None:
            return single_text(options.single_text or "")
        items = load_items(Path(options.input), text_column=options.text_column, limit=options.limit,
                           fields=parse_fields(options.fields), label_words=(self._labels.name,))
        return check_gold(items, self._labels).items  # gold written as label names becomes ids

    def load_snapshot(self, folder: RunFolder, options: RunOptions) -> list[TextItem]:
        self._use_labels(folder.file("inputs/labels.yaml"))
        return [TextItem.from_dict(item) for item in read_json(folder.file(f"inputs/{self.items_file}"))]

    def snapshot(self, folder: RunFolder) -> None:
        assert self.labels_path is not None
        folder.copy_in(self.labels_path, "inputs/labels.yaml")

    def config_paths(self) -> dict[str, str | None]:
        return {"labels_path": str(self.labels_path)}

    def gold_warning(self, items: Sequence[Any]) -> str | None:
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

    def label_source(self) -> LabelSet:
        return self._labels
    def read_items(self, path: Path) -> list[TextItem]:
        return check_gold(load_items(path), self._labels).items

    def gold_choice(self, item: Any) -> str | None:
        return item.expected_label if item.expected_label in self._labels.ids else None

    def prompt_variables(self, *, explain: bool = False) -> dict[str, Any]:
        labels = self._labels
        return {"labels": prompts.render_labels(labels),
                "label_set": {"name": labels.name, "version": labels.version, "description": labels.description},
                "answer_format": answer_format_text("text", "label", explain=explain)}

    def columns(self, with_gold: bool) -> list[str]:
        return COLUMNS + GOLD_COLUMNS if with_gold else list(COLUMNS)

    def row(self, item: Any, result: ItemResult, model_used: str, with_gold: bool) -> dict[str, Any]:
        label = result.answer.get("label", "")
        row: dict[str, Any] = {"item_id": item.item_id, "text": item.text, "label": label}
        if with_gold:
            row["expected_label"] = item.expected_label
            row["correct"] = self.correct(item, result, label == item.expected_label)
        return row

    def write_metrics(self, run_dir: Path) -> dict[str, Any]:
        return self._metrics().write_metrics(run_dir, self._labels)  # in label-set order


TASK = ClassifyText
