"""The classify task's side of a streamed run (``--engine process|ray``, labnb.scale): the label set loaded
once, the output columns from the input's header, and each part's rows checked and turned into items exactly
as ``load_items`` turns a whole file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labnb.errors import InputError, UsageError
from labnb.flat.items import TextColumns, TextItem, check_gold, text_items
from labnb.flat.labels import LabelSet
from labnb.flat.labels_from_column import OPTION, gold_from_column
from labnb.inputs.itemrows import item_rows
from labnb.inputs.labelcols import check_fields, parse_fields
from labnb.inputs.labelspace import column_value, require_columns
from labnb.store.runfolder import RunFolder

ClassifyOptions = Any  # labnb.flat.task.ClassifyOptions (which imports this module)
LABELS_SNAPSHOT = "inputs/labels.yaml"  # the run's label set in its folder
CELL_PART_ROWS = 50_000  # rows read at once by the pass over --labels-from-column's cells


class StreamedTexts:
    """Mixed into ``Classify``: what ``labnb.scale`` asks of a task."""

    columns: TextColumns
    carried_columns: tuple[str, ...]
    label_column: str | None

    if TYPE_CHECKING:  # Classify's own
        def _use_labels(self, path: Path) -> None: ...

        def _labels_from_values(self, values: Iterable[str], options: ClassifyOptions) -> None: ...

        @property
        def _labels(self) -> LabelSet: ...

    def stream_refusal(self, options: ClassifyOptions) -> str | None:
        if options.single_text is not None:
            return "--engine reads an --input file; --single-text runs in this process"
        return None

    def load_labels(self, options: ClassifyOptions, folder: RunFolder | None = None) -> None:
        """The run's label set: from its folder (a resume), --labels FILE, or --labels-from-column (one pass over
        that column of the whole input first, keeping only its distinct values)."""
        refusal = self.stream_refusal(options)
        if refusal:
            raise UsageError(refusal)
        self.columns, self.label_column = options.columns, options.labels_from_column
        if folder is not None:
            self._use_labels(folder.file(LABELS_SNAPSHOT))
        elif options.labels_from_column is not None:
            self._labels_from_values(_column_cells(options.input or "", options.labels_from_column), options)
        else:
            assert options.labels is not None  # checked by ClassifyOptions.check
            self._use_labels(Path(options.labels))

    def stream_columns(self, columns: Sequence[str], options: ClassifyOptions) -> bool:
        folded = {c.casefold() for c in columns}
        for name, flag in ((c, "--text-column") for c in self.columns.text):
            if name.casefold() not in folded:
                raise InputError(f"{options.input}: no column '{name}' ({flag})")
        known = {c.casefold() for c in (*self.columns.known, *([self.label_column] if self.label_column else []))}
        check_fields(parse_fields(options.fields), [c for c in columns if c.casefold() not in known],
                     self.columns.known, str(options.input))
        self.carried_columns = tuple(c for c in columns if c and c.casefold() not in known)
        return self.label_column is not None or self.columns.gold.casefold() in folded

    def items_of_rows(self, path: Path, rows: list[tuple[int, dict[str, Any]]], options: ClassifyOptions,
                      first_index: int) -> list[TextItem]:
        checked = item_rows(path, rows, self.columns.rules(), first_index=first_index)
        items = text_items(checked, self.columns, parse_fields(options.fields), (self._labels.name,))
        if self.label_column is not None:
            items = gold_from_column(items, self.label_column, path, self.columns.gold)
        return check_gold(items, self._labels).items  # gold written as a label's name becomes its id

    def bare_item(self, item_id: str, text: str) -> TextItem:
        return TextItem(item_id=item_id, text=text)

    def raw_cells(self) -> tuple[str, str, str]:
        return self.columns.id, self.columns.text[0], self.columns.rules().id_prefix


def _column_cells(path: str | Path, column: str) -> Iterator[str]:
    """The cells of ``column`` in every row of the input at ``path``, read part by part (memory stays flat)."""
    from labnb.scale.source import open_source, plan_parts, read_part

    source = open_source(path)
    require_columns([column], source.columns, OPTION, path)
    for part in plan_parts(source, CELL_PART_ROWS):
        for row in read_part(source, part):
            if row.fields is not None:
                yield column_value({str(k): "" if v is None else str(v) for k, v in row.fields.items()}, column)
