"""A labnb task in one module: the priority of a support ticket, from its text and the columns beside it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from labnb.flat.items import TextColumns, TextItem, load_items
from labnb.parts.one_answer import OneAnswerMetrics
from labnb.parts.prompt_file import PromptFromFile
from labnb.run.options import RunOptions
from labnb.store.jsonio import read_json
from labnb.store.results import ItemResult
from labnb.store.runfolder import RunFolder
from labnb.task import Choice

PRIORITIES = {  # id: (name, description), most urgent first
    "p1": ("Urgent", "Many customers are blocked, data is lost, or money is taken wrongly."),
    "p2": ("High", "One customer cannot use the product or cannot pay, and has no workaround."),
    "p3": ("Normal", "Something is wrong or unclear, but there is a workaround."),
    "p4": ("Low", "Questions, ideas and thanks: nothing is broken."),
}


@dataclass(frozen=True)
class PriorityOptions(RunOptions):
    text_column: str = "body"  # every other column but the gold is shown beside the text


class Priority(PromptFromFile[TextItem, PriorityOptions], OneAnswerMetrics[TextItem, PriorityOptions]):
    """The priority of a support ticket (p1 urgent … p4 low), from its text and the columns beside it."""

    name = "priority"  # labnb run priority; runs/priority-<date>-<time>/
    item_noun = "ticket"
    choice_noun = "priority"
    id_column = "ticket_id"
    items_file = "tickets.json"
    script = "labnb run priority"
    options_class = PriorityOptions
    answer_columns = ("priority",)
    gold_columns = ("expected_priority",)

    @classmethod
    def add_arguments(cls, what: argparse._ArgumentGroup, files: argparse._ArgumentGroup) -> None:
        what.add_argument("--text-column", metavar="NAME", help="the column holding the ticket (default body)")

    def read_items(self, path: Path, options: PriorityOptions = PriorityOptions()) -> list[TextItem]:
        columns = TextColumns((options.text_column,), gold="expected_priority")
        return load_items(path, columns, limit=options.limit)

    def load(self, options: PriorityOptions) -> list[TextItem]:
        assert options.input is not None  # the framework asks for --input FILE
        return self.read_items(Path(options.input), options)

    def load_snapshot(self, folder: RunFolder, options: PriorityOptions) -> list[TextItem]:
        return [TextItem.from_dict(item) for item in read_json(folder.file(f"inputs/{self.items_file}"))]

    def snapshot(self, folder: RunFolder) -> None:
        """Nothing to copy: the priorities are this module's own (the items are the framework's)."""

    def choices(self) -> dict[int, Choice]:
        return {k: Choice(k, pid, name, about, {"priority": pid})
                for k, (pid, (name, about)) in enumerate(PRIORITIES.items(), start=1)}

    def gold_choice(self, item: TextItem) -> str | None:
        return item.expected_label if item.expected_label in PRIORITIES else None

    def row(self, item: TextItem, result: ItemResult, with_gold: bool) -> dict[str, str]:
        return {"ticket_id": item.item_id, "text": item.text, "priority": result.answer.get("priority", ""),
                "expected_priority": item.expected_label}
