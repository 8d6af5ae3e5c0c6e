"""The per-item outputs of a run: classifications.csv, calls.jsonl, errors.log, written as results arrive."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from labnb.classify.cascade import CASCADE_COLUMNS, cascade_cell
from labnb.errors import RunAborted
from labnb.store.calls import CallRecord, sent_record
from labnb.store.logs import CsvLog, JsonlLog, TextLog, read_csv_rows, write_csv
from labnb.store.results import DONE_STATUSES, BatchOutcome, ItemResult
from labnb.store.scrub import scrub
from labnb.task import FRAMEWORK_COLUMNS, Item, TableColumns, Task

__all__ = ["DONE_STATUSES", "OutputWriter", "finalize_table", "latest_rows", "row_of"]


def _one_line(text: str) -> str:
    # Rows never span lines, so a torn last line after a crash is easy to drop.
    return text.replace("\r", "\\r").replace("\n", "\\n")


CORRECT = "correct"


def carried_name(column: str, own: TableColumns) -> str:
    """An input column's name in classifications.csv: ``input_<name>`` where it would clash with another."""
    taken = {*own.inputs, *own.answers, *FRAMEWORK_COLUMNS, *own.details, *own.gold, CORRECT, *CASCADE_COLUMNS}
    return f"input_{column}" if column in taken else column


def table_columns(task: Task, with_gold: bool) -> list[str]:
    """Every column: the task's inputs and answers, the framework's, the task's details, gold and ``correct``,
    the carried input columns, and the first model's answer and confidence in a cascade."""
    own = task.table()
    columns = [*own.inputs, *own.answers, *FRAMEWORK_COLUMNS, *own.details]
    if with_gold:
        columns += [*own.gold, CORRECT]
    columns += [carried_name(column, own) for column in own.carried]
    return columns + (list(CASCADE_COLUMNS) if task.cascading else [])


def row_of(task: Task, item: Item, result: ItemResult, model_used: str, with_gold: bool) -> dict[str, Any]:
    """The CSV row of one item's result: the task's own values, then every column the framework owns."""
    model_used = result.model_used or model_used
    own = task.table()
    mine = task.row(item, result, with_gold)
    row: dict[str, Any] = {column: mine.get(column, "") for column in (*own.inputs, *own.answers, *own.details)}
    if with_gold:
        row.update({column: mine.get(column, "") for column in own.gold})
        # empty where nothing is scored (no gold label, never run), so df.correct.mean() is the accuracy
        scored = item.has_gold and result.status != "not_run"
        right = result.status == "ok" and all(row[a] == row[g] for a, g in zip(own.answers, own.gold))
        row[CORRECT] = right if scored else None
    carried = task.carried(item)
    row.update({carried_name(column, own): carried.get(column, "") for column in own.carried})
    if task.cascading:
        row.update({column: cascade_cell(result, column) for column in CASCADE_COLUMNS})
    row.update({
        "raw_response": _one_line(scrub(result.raw_response)), "model_used": model_used,
        "status": result.status, "error_type": result.error_type, "error": " ".join(scrub(result.error).split()),
        "latency_ms": f"{result.latency_ms:.1f}" if result.status != "not_run" else "",
        "confidence": "" if result.confidence is None else f"{result.confidence:.6f}",
        "call_id": result.call_id,
    })
    return row


class OutputWriter:
    """Appends every finished item and call the moment it is known."""

    def __init__(self, outputs: Path, task: Task, items: Sequence[Item], model_used: str) -> None:
        self.outputs = outputs
        self.task = task
        self.by_id = {p.item_id: p for p in items}
        self.with_gold = any(p.has_gold for p in items)
        self.model_used = model_used
        self.table = CsvLog(outputs / "classifications.csv", table_columns(task, self.with_gold))
        self.calls = JsonlLog(outputs / "calls.jsonl")
        self.sent = JsonlLog(outputs / "calls_sent.jsonl")
        self.errors = TextLog(outputs / "errors.log")
        self._written: set[str] = set()

    def send(self, call: CallRecord) -> None:
        """The write-ahead line of ``call``, before its request is sent; a log that cannot be written stops
        the run before the request goes out (it could not be recorded)."""
        try:
            self.sent.write(sent_record(call))
        except OSError as exc:
            raise RunAborted(f"{self.outputs / 'calls_sent.jsonl'}: cannot write ({exc.strerror or exc}); "
                             "no request is sent that could not be recorded") from None

    def write_call(self, call: CallRecord) -> None:
        """Log one call, once: as soon as it is settled, and never again with its batch's results."""
        if call.call_id in self._written:
            return
        self._written.add(call.call_id)
        record = call.to_dict()
        record["error"] = scrub(record["error"])
        record["response"] = scrub(record["response"])
        self.calls.write(record)
        if call.status != "ok":
            self.errors.write(f"call {call.call_id} [{call.error_type}] {self.task.item_noun}s="
                              f"{','.join(call.item_ids)}: {scrub(call.error)}")

    def write(self, outcome: BatchOutcome) -> None:
        noun = self.task.item_noun
        for call in outcome.calls:
            self.write_call(call)
        for result in outcome.results:
            item = self.by_id[result.item_id]
            self.table.write(row_of(self.task, item, result, self.model_used, self.with_gold))
            if result.status in ("invalid", "error") and result.error_type not in ("", "not_run"):
                self.errors.write(f"{noun} {result.item_id} {result.status} [{result.error_type}]: "
                                  f"{scrub(result.error)}")

    def note(self, line: str) -> None:
        self.errors.write(scrub(line))

    def close(self) -> None:
        for log in (self.table, self.calls, self.sent, self.errors):
            log.close()


def latest_rows(outputs: Path, id_column: str) -> dict[str, dict[str, str]]:
    """The last row written for each item id (a retried item's newer row wins)."""
    return {row[id_column]: row for row in read_csv_rows(outputs / "classifications.csv")}


def finalize_table(outputs: Path, task: Task, items: Sequence[Item], model_used: str) -> list[dict[str, Any]]:
    """Rewrite classifications.csv with exactly one row per input item, in input order."""
    with_gold = any(p.has_gold for p in items)
    latest = latest_rows(outputs, task.id_column)
    rows = []
    for item in items:
        row = latest.get(item.item_id)
        if row is None:
            row = row_of(task, item, ItemResult(item.item_id, status="not_run", error_type="not_run",
                                                error="not attempted: the run stopped first"), model_used, with_gold)
        rows.append(row)
    write_csv(outputs / "classifications.csv", table_columns(task, with_gold), rows)
    return rows
