"""The end of a streamed run: the table (one CSV, or the Parquet parts past a size), metrics summed from
the parts' counts (never from all rows at once), token usage, timing, the summary and its one line."""

from __future__ import annotations

import shutil
from collections import Counter
from typing import Any, cast

from labnb.config import ModelEntry
from labnb.cost.totals import timing, token_usage
from labnb.run.finalize import final_status, summary_line
from labnb.run.result import EXIT_CODES, RunResult
from labnb.scale import journal
from labnb.scale.source import Part
from labnb.scale.work import FLOAT_COLUMNS
from labnb.store.jsonio import write_json
from labnb.store.lifecycle import RunRecorder
from labnb.store.logs import csv_line
from labnb.store.records import Timing, TokenUsage
from labnb.store.runfolder import RunFolder
from labnb.store.timeutil import utc_now
from labnb.task import Task

CSV_MAX_ROWS = 1_000_000  # up to this many rows a finished run has outputs/classifications.csv
CSV_FORMATS = {"confidence": "{:.6f}", "latency_ms": "{:.1f}"}  # as in-process runs write them


def finish(task: Task, entry: ModelEntry, folder: RunFolder, recorder: RunRecorder, parts: list[Part], *,
           status: str) -> RunResult:
    records = journal.finished(folder)
    total = sum(p.rows for p in parts)
    complete = all(p.index in records for p in parts)
    if not complete and status == "done":
        status = "interrupted"
    counts: Counter[tuple[str, ...]] = Counter()  # one line per distinct cell, not per row
    for record in journal.records(folder):
        for cell in record["counts"]:
            counts[tuple(cell[:-1])] += cell[-1]
    statuses: Counter[str] = Counter()
    for key, n in counts.items():
        statuses[key[0]] += n
    statuses["not_run"] += total - sum(r["rows"] for r in records.values())
    if complete and total <= CSV_MAX_ROWS:
        _write_csv(folder, [records[p.index] for p in parts])
    tokens = sum(r["tokens"] for r in records.values())
    usage = token_usage([], entry)
    usage.update(total_prompt_tokens=tokens, total_tokens=tokens, calls_made=sum(r["calls"] for r in records.values()))
    folder.write_json("outputs/token_usage.json", TokenUsage.build(usage).to_dict())
    sessions = recorder.summary.get("sessions", [])
    setup = sum(s.get("setup_seconds", 0.0) for s in sessions)
    duration = setup + sum(s.get("duration_seconds", 0.0) for s in sessions)
    processed = sum(statuses[s] for s in ("ok", "invalid", "error"))
    folder.write_json("outputs/timing.json", Timing.build({
        **timing([], duration, processed, statuses["invalid"] + statuses["error"], setup=setup,
                 noun=task.item_noun),
        "calls": usage["calls_made"], "parts": len(records),
        "part_seconds_total": round(sum(r["seconds"] for r in records.values()), 3),
        f"{task.items_noun}_per_second": round(processed / (duration - setup), 1) if duration > setup else None,
    }).to_dict())
    accuracy = _metrics(task, folder, counts) if _has_gold(folder) and complete else None
    final = final_status(status, statuses)
    recorder.update(
        status=final, ended_at=utc_now(),
        counts={s: statuses[s] for s in ("ok", "invalid", "error", "not_run")} | {"total": total},
        accuracy=accuracy, cost_usd=usage["cost_usd"], total_tokens=tokens, calls_cancelled=0,
        parts_done=len(records), duration_seconds=round(duration, 3), file_sha256=folder.hashes(),
        table="outputs/classifications.csv" if folder.file("outputs/classifications.csv").is_file()
        else f"{journal.PARTS_DIR}/part-*.parquet",
    )
    line = summary_line(folder, final, statuses, usage, duration, accuracy)
    return RunResult(folder, final, EXIT_CODES[final], line)


def _has_gold(folder: RunFolder) -> bool:
    config = folder.read_json("config/run_config.json")
    return bool(isinstance(config, dict) and config.get("with_gold"))


def _metrics(task: Task, folder: RunFolder, counts: Counter[tuple[str, ...]]) -> float | None:
    """metrics.json and confusion_matrix.csv from the summed counts (a line per distinct combination)."""
    import pandas as pd

    columns = ["status", "error_type", *task.answer_columns, *task.gold_columns]
    frame = pd.DataFrame([[*key, n] for key, n in sorted(counts.items())], columns=[*columns, "weight"])
    metrics, matrix = task.score(frame)
    write_json(folder.file("outputs/metrics.json"), metrics)
    matrix.to_csv(folder.file("outputs/confusion_matrix.csv"))
    return cast("float | None", metrics.get("accuracy"))


def _write_csv(folder: RunFolder, records: list[dict[str, Any]]) -> None:
    """classifications.csv from the parts, in input order, one part in memory at a time; then the parts go."""
    import pandas as pd

    parts_dir = folder.file(journal.PARTS_DIR)
    target = folder.file("outputs/classifications.csv")
    tmp = target.with_name(".classifications.csv.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as out:
        for n, record in enumerate(records):
            frame = pd.read_parquet(parts_dir / record["file"])
            if n == 0:
                out.write(csv_line(list(frame.columns)))
            for column, fmt in CSV_FORMATS.items():
                if column in frame.columns:
                    frame[column] = [fmt.format(v) if v == v else "" for v in frame[column]]
            if "correct" in frame.columns:
                frame["correct"] = ["" if pd.isna(v) else str(bool(v)) for v in frame["correct"]]
            for values in frame.itertuples(index=False, name=None):
                out.write(csv_line(values))
    tmp.replace(target)
    shutil.rmtree(parts_dir, ignore_errors=True)


assert set(CSV_FORMATS) == set(FLOAT_COLUMNS)
