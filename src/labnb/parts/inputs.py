"""The inputs part of a task: its items and label files, loaded whole or part by part, and snapshotted."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Generic

from labnb.parts.records import ItemT, JsonValue, OptionsT

if TYPE_CHECKING:
    import argparse

    from labnb.store.runfolder import RunFolder


class Inputs(ABC, Generic[ItemT, OptionsT]):
    """Loads a run's items (with optional gold labels) and its label inputs; problems are one-line
    ``InputError``s. A streamed run (``--engine``, labnb.scale) reads its items part by part instead."""

    name: ClassVar[str]  # the use case, the run-id prefix by default
    item_noun: ClassVar[str]  # keys such as <noun>s_processed and messages use it
    id_column: ClassVar[str]  # the id column of classifications.csv
    text_column: ClassVar[str] = "text"  # the main text column
    items_file: ClassVar[str]  # the snapshot of the items under inputs/

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

    def read_items(self, path: Path) -> list[ItemT]:
        """Items of a file in the task's input format, with their gold (``--examples FILE``)."""
        raise NotImplementedError(f"{self.name} does not read examples files")

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
