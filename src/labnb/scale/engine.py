"""A streamed run of the local model (``--engine process`` or ``--engine ray``): the same run folder as any
run, with the items read, classified and written part by part, so memory does not grow with the input.

The model is loaded and fitted (``--examples``) once, here, before the run folder exists; ``--engine ray``
ships that fitted model to its actors. Each finished part is recorded as it lands (``labnb.scale.journal``);
``--resume`` redoes only the parts without a record.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from labnb.classify.base import Classifier
from labnb.config import ModelEntry, load_models_config
from labnb.errors import InputError, UsageError
from labnb.providers import create_classifier
from labnb.run.options import PROJECT_ROOT, RunOptions
from labnb.run.outputs import table_columns
from labnb.run.result import RunResult
from labnb.scale import journal
from labnb.scale.finish import finish
from labnb.scale.snapshot import snapshot_input, verified_input
from labnb.scale.source import FORMATS, Source, open_source, plan_parts
from labnb.scale.work import Context, PartWorker
from labnb.store.jsonio import read_json
from labnb.store.lifecycle import RunRecorder
from labnb.store.provenance import git_info, system_info
from labnb.store.runfolder import RunFolder
from labnb.store.timeutil import utc_now
from labnb.task import Task
from labnb.terminal.progress import Progress

ENGINES = ("process", "ray")
STREAM_BYTES = 64 * 1024 * 1024  # a local-model input past this streams without --engine (--engine process)
PART_ROWS = 10_000  # rows per part (--part-rows): a unit of work, of resume and of output
MAX_PART_ROWS = 250_000
REFUSED = {"escalate_to": "--escalate-to", "max_cost": "--max-cost", "batch_api": "--batch-api",
           "explain": "--explain", "prompt": "--prompt"}


def check(options: RunOptions, entry: ModelEntry) -> None:
    """What a streamed run cannot honour is refused, never dropped."""
    if entry.provider != "local":
        raise UsageError(f"--engine runs the local model (--model local), not '{entry.alias}'; LLM runs at scale "
                         "go to the providers' batch APIs (--batch-api)")
    if options.input is None:
        raise UsageError("--engine reads an --input file (CSV, TSV, JSONL, Parquet or a directory of Parquet files)")
    for field, flag in REFUSED.items():
        if getattr(options, field):
            raise UsageError(f"--engine does not take {flag} (the local model, streamed)")
    if not 1 <= options.part_rows <= MAX_PART_ROWS:
        raise UsageError(f"--part-rows must be between 1 and {MAX_PART_ROWS:,}, got {options.part_rows}")


def auto_engine(task: Task, options: RunOptions) -> str | None:
    """``process`` when a new local-model run without ``--engine`` should stream anyway: a Parquet input
    (only streamed runs read it) or a text input past ``STREAM_BYTES``; else None (the usual engine)."""
    if options.input is None or any(getattr(options, field) for field in REFUSED):
        return None
    if type(task).load_labels is Task.load_labels or task.stream_refusal(options):  # the task does not stream these
        return None
    path = Path(options.input)
    parquet = path.is_dir() or path.suffix.lower() == ".parquet"
    if not parquet and not (path.suffix.lower() in FORMATS and path.is_file()
                            and path.stat().st_size > STREAM_BYTES):
        return None
    try:
        entry = load_models_config(Path(options.models_config)).get(options.model)
    except Exception:  # the usual path reports a broken models.yaml
        return None
    return "process" if entry.provider == "local" else None


def run_streamed(task: Task, options: RunOptions, command: list[str]) -> RunResult:
    """A new streamed run of ``options.input``."""
    clock = time.perf_counter()
    options.check()
    entry = load_models_config(Path(options.models_config)).get(options.model)
    check(options, entry)
    if options.engine == "ray":
        from labnb.scale.ray_engine import require_ray

        require_ray()
    task = task.for_inputs(options)  # the task these inputs need (e.g. a deeper label tree)
    task.load_labels(options)
    source = open_source(options.input or "")
    with_gold = task.stream_columns(source.columns, options)
    parts = list(plan_parts(source, options.part_rows, options.limit))
    if not parts:
        raise InputError(f"{source.path}: no {task.items_noun} (the file has a header but no rows)")
    classifier = _fitted(task, options, entry, None)
    provenance, templates = classifier.provenance(), classifier.prompt_templates()
    folder = RunFolder.create(Path(options.runs_dir), task.run_prefix())
    snapshot_input(folder, source)
    task.snapshot(folder)
    if task.prompting is not None:
        task.prompting.snapshot(folder)
    folder.write_json("inputs/prompt_templates.json", templates)
    folder.copy_in(Path(options.models_config), "config/models.yaml")
    journal.write_plan(folder, source, parts, options.part_rows)
    folder.write_json("config/run_config.json", {
        "options": options.to_dict(), "model_entry": entry.to_dict(), "input_path": str(source.path),
        **task.config_paths(), "models_config_path": str(options.models_config), "replay_of": None,
        "use_case": task.name, "engine": options.engine, "with_gold": with_gold,
    })
    folder.write_json("config/system_info.json", {**system_info(), "model": provenance})
    total = sum(p.rows for p in parts)
    recorder = RunRecorder(folder, {
        "run_id": folder.run_id, "use_case": task.name, "status": "running", "started_at": utc_now(),
        "ended_at": None, "model_alias": entry.alias, "model_id": entry.model, "model_used": entry.model_used,
        f"{task.items_noun}_total": total, "command": command, "git": git_info(PROJECT_ROOT), "replay_of": None,
        "resumes": [], "sessions": [], "tags": list(options.tags), "note": options.note,
        "engine": options.engine, "parts_total": len(parts), "file_sha256": folder.hashes(),
    })
    recorder.save()
    return _execute(task, options, entry, folder, recorder, classifier, with_gold, source,
                    mode="new", setup=time.perf_counter() - clock)


def is_streamed(folder: RunFolder) -> bool:
    return folder.file(journal.PLAN).is_file()


def resume_streamed(task: Task, folder: RunFolder, command: list[str], *, concurrency: Any = None,
                    ray_address: str | None = None) -> RunResult:
    """Finish a streamed run in its folder: the parts without a record, from the run's own snapshot."""
    clock = time.perf_counter()
    recorded = read_json(folder.file("config/run_config.json"))
    options = task.options_class.from_dict(recorded["options"])
    changed = {"concurrency": concurrency, "ray_address": ray_address}
    options = replace(options, **{k: v for k, v in changed.items() if v is not None})
    entry = load_models_config(folder.file("config/models.yaml")).get(options.model)
    if options.engine == "ray":
        from labnb.scale.ray_engine import require_ray

        require_ray()
    source, _parts, _rows = journal.read_plan(folder)
    source = verified_input(folder, source)
    task = task.for_inputs(options, folder)
    task.load_labels(options, folder)
    with_gold = task.stream_columns(source.columns, options)
    classifier = _fitted(task, options, entry, folder)
    recorder = RunRecorder.load(folder)
    recorder.summary.setdefault("resumes", []).append({"at": utc_now(), "command": command})
    return _execute(task, options, entry, folder, recorder, classifier, with_gold, source,
                    mode="resume", setup=time.perf_counter() - clock)


def _fitted(task: Task, options: RunOptions, entry: ModelEntry, folder: RunFolder | None) -> Classifier:
    """The local model for the run, loaded and fitted on ``--examples`` now (never again per worker)."""
    from labnb.prompting.setup import build_prompting

    # Examples are not matched against a streamed input (it is never held): none are left out for it.
    task.prompting = build_prompting(task, options, [], folder=folder, uses_shots=False)
    classifier: Any = create_classifier(entry, task)
    ranked = classifier.ranked()  # a task with many choices: its index of them, and the learner on the examples
    if ranked is not None:
        ranked.learner()
    else:
        classifier.index()  # the choices' vectors
        classifier.learner()
    return classifier


def _execute(task: Task, options: RunOptions, entry: ModelEntry, folder: RunFolder, recorder: RunRecorder,
             classifier: Classifier, with_gold: bool, source: Source, *, mode: str, setup: float) -> RunResult:
    planned, parts, _ = journal.read_plan(folder)
    moved = dict(zip(planned.files, source.files))  # a resumed run reads its own copy of the input
    parts = [replace(p, file=moved[p.file]) for p in parts]
    done = journal.finished(folder)
    todo = [p for p in parts if p.index not in done]
    pending = sum(p.rows for p in todo)
    session = {"mode": mode, "started_at": utc_now(), "engine": options.engine, "parts": len(todo),
               task.items_noun: pending, "setup_seconds": round(setup, 3)}
    recorder.summary.setdefault("sessions", []).append(session)
    recorder.update(status="running", ended_at=None, pid=os.getpid(), host=socket.gethostname())
    context = Context(task, options, source, entry.model_used, with_gold, table_columns(task, with_gold),
                      str(folder.file(journal.PARTS_DIR)))
    log = journal.Journal(folder, len(recorder.summary["sessions"]))
    progress = Progress(pending, enabled=bool(todo), desc=f"{entry.alias} ({options.engine})",
                        unit=task.item_noun)
    clock, status = time.perf_counter(), "failed"
    try:
        if options.engine == "ray":
            from labnb.scale.ray_engine import run_parts

            records = run_parts(classifier, context, todo, options)
        else:
            worker = PartWorker(classifier, context)
            records = (worker.run(part) for part in todo)
        failed = tokens = 0
        for record in records:
            log.record(record)
            failed += sum(c[-1] for c in record["counts"] if c[0] != "ok")
            tokens += record["tokens"]
            progress.advance(record["rows"], failed=failed, tokens=tokens, cost=0.0)
        status = "done"
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        log.close()
        progress.close()
        session["ended_at"] = utc_now()
        session["duration_seconds"] = round(time.perf_counter() - clock, 3)
        if status == "failed":
            recorder.update(status="failed", ended_at=utc_now())
    return finish(task, entry, folder, recorder, parts, status=status)
