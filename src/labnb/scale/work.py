"""One part of a streamed run, start to finish: read its rows, classify them, write its Parquet file and
return its record (rows, tokens, and the counts the run's metrics are summed from).

The same ``PartWorker`` runs in this process (``--engine process``) and in every Ray actor (``--engine
ray``), so both engines give the same rows. A malformed row becomes that item's ``invalid`` row.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labnb.classify.base import Classifier
from labnb.errors import InputError
from labnb.local.memory import release_free_memory
from labnb.run.options import RunOptions
from labnb.run.outputs import row_of
from labnb.scale.source import Part, RawRow, Source, read_part
from labnb.store.results import ItemResult
from labnb.store.timeutil import utc_now
from labnb.task import Item, Task

CALLS_PER_PART = 1000  # call ids of part k are c{k*1000+1}..: the same whichever worker runs it
FLOAT_COLUMNS = ("confidence", "latency_ms")  # typed in the Parquet parts; text in classifications.csv


@dataclass
class Context:
    """What every worker needs besides the model (sent once with it)."""

    task: Task
    options: RunOptions
    source: Source
    model_used: str
    with_gold: bool
    columns: list[str]
    parts_dir: str

    def metric_columns(self) -> tuple[str, ...]:
        """The columns the metrics depend on: a part's record counts each distinct combination of them."""
        task = self.task
        return ("status", "error_type", *task.answer_columns, *(task.gold_columns if self.with_gold else ()))


def part_file(index: int) -> str:
    return f"part-{index:05d}.parquet"


class PartWorker:
    """Classifies parts with a classifier fitted once (on the driver) and loaded once per process."""

    def __init__(self, classifier: Classifier, context: Context) -> None:
        self.classifier = classifier
        self.context = context
        self._event_loop: asyncio.AbstractEventLoop | None = None

    def run(self, part: Part) -> dict[str, Any]:
        """Classify ``part``, write its file; its record. Memory freed by the part goes back to the system."""
        try:
            return self._run(part)
        finally:
            release_free_memory()

    def _run(self, part: Part) -> dict[str, Any]:
        clock, started = time.perf_counter(), utc_now()
        context, task = self.context, self.context.task
        raw = read_part(context.source, part)
        items = self._items(part, raw)
        results, tokens, calls = self._classify(part, [item for item, problem in items if not problem])
        answers = iter(results)
        rows: list[dict[str, Any]] = []
        counts: Counter[tuple[str, ...]] = Counter()
        metric_columns = context.metric_columns()
        for item, problem in items:
            result = next(answers) if not problem else ItemResult(
                item.item_id, status="invalid", error_type="bad_input", error=problem)
            row = row_of(task, item, result, context.model_used, context.with_gold)
            rows.append(row)
            counts[tuple(str(row.get(c, "")) for c in metric_columns)] += 1
        name = part_file(part.index)
        digest = write_part(Path(context.parts_dir) / name, rows, context.columns)
        return {
            "part": part.index, "rows": len(rows), "position": part.position, "file": name, "sha256": digest,
            "counts": [[*key, n] for key, n in sorted(counts.items())],
            "tokens": tokens, "calls": calls, "started_at": started, "finished_at": utc_now(),
            "seconds": round(time.perf_counter() - clock, 3), "worker": f"{socket.gethostname()}:{os.getpid()}",
        }

    def _items(self, part: Part, raw: list[RawRow]) -> list[tuple[Item, str]]:
        """Each row's item, and the problem that makes it invalid ("" for a good row)."""
        context = self.context
        path, task, options = Path(part.file), context.task, context.options
        good = [(row.line, row.fields) for row in raw if row.fields is not None and not row.problem]
        if len(good) == len(raw):
            try:  # the usual case: every row of the part is fine, checked in one go
                return [(item, "") for item in task.items_of_rows(path, good, options, part.position + 1)]
            except InputError:
                pass
        out = []
        for offset, row in enumerate(raw):
            index = part.position + offset + 1
            if row.fields is not None and not row.problem:
                try:
                    out.append((task.items_of_rows(path, [(row.line, row.fields)], options, index)[0], ""))
                    continue
                except InputError as exc:
                    problem = str(exc)
            else:
                problem = f"{path}: line {row.line}: {row.problem}"
            id_column, text_column, prefix = task.raw_cells()
            out.append((task.bare_item(_cell(row, id_column) or f"{prefix}{index:04d}",
                                       _cell(row, text_column)[:200]), problem))
        return out

    def _loop(self) -> asyncio.AbstractEventLoop:
        """One event loop for the worker's life: its thread pool is reused by every batch. (A loop per batch
        started new threads each time, and each new thread's malloc arena kept growing the process.)"""
        if self._event_loop is None:
            self._event_loop = asyncio.new_event_loop()
        return self._event_loop

    def _classify(self, part: Part, items: list[Item]) -> tuple[list[ItemResult], int, int]:
        """The items' results in their order, input tokens and calls (one call a batch, as in-process runs)."""
        classifier = self.classifier
        classifier.start_call_ids(part.index * CALLS_PER_PART + 1)
        size = classifier.batch_size(1)
        results: list[ItemResult] = []
        tokens = calls = 0
        for start in range(0, len(items), size):
            outcome = self._loop().run_until_complete(classifier.classify(items[start:start + size]))
            tokens += sum(c.usage.input_tokens for c in outcome.calls)
            calls += len(outcome.calls)
            results.extend(outcome.results)
        return results, tokens, calls


def _cell(row: RawRow, column: str) -> str:
    if not row.fields:
        return ""
    value = next((v for k, v in row.fields.items() if str(k).strip().casefold() == column.casefold()), "")
    return " ".join(str(value).split()) if isinstance(value, (str, int, float)) else ""


def write_part(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Write rows as one Parquet file, atomically (a part is there whole or not at all); its sha256."""
    import pandas as pd

    frame = pd.DataFrame([[row.get(c) for c in columns] for row in rows], columns=columns)
    for column in columns:
        if column in FLOAT_COLUMNS:
            frame[column] = pd.to_numeric(frame[column].replace("", None), errors="coerce").astype("float64")
        elif column == "correct":  # empty where nothing is scored, as in classifications.csv
            frame[column] = frame[column].astype("boolean")
        else:
            frame[column] = frame[column].fillna("").astype(str)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_parquet(tmp, index=False)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    os.replace(tmp, path)
    return digest
