"""Run a plan in a run folder: snapshot, classify concurrently, write as it goes, finalize."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from labnb import cache as response_cache
from labnb.classify.base import Classifier
from labnb.clients.requests import batches
from labnb.cost.usage import Usage
from labnb.errors import RunAborted
from labnb.inputs.labelcols import column_split
from labnb.pacing.budget import Ledger
from labnb.pacing.executor import Executor, StopSignal
from labnb.pacing.ratelimit import RateLimiter
from labnb.pacing.ratestats import SESSION_KEY
from labnb.providers import create_classifier
from labnb.run.finalize import finalize_run
from labnb.run.ledger import open_ledger, record_unsettled
from labnb.run.options import PROJECT_ROOT
from labnb.run.outputs import OutputWriter, latest_rows
from labnb.run.plan import Plan
from labnb.run.result import RunResult
from labnb.store.jsonio import read_jsonl
from labnb.store.lifecycle import RunRecorder
from labnb.store.provenance import git_info, system_info
from labnb.store.results import DONE_STATUSES, BatchOutcome
from labnb.store.runfolder import RunFolder
from labnb.store.scrub import scrub
from labnb.store.timeutil import utc_now
from labnb.task import Item
from labnb.terminal.progress import Progress


def start(plan: Plan, classifier: Classifier, command: list[str], **summary: Any) -> tuple[RunFolder, RunRecorder]:
    """Create the run folder and snapshot every input and setting of the run; ``summary`` adds or overrides fields."""
    task = plan.task
    # Load a local model (provenance hashes its weights) before the folder exists: Ctrl-C during the
    # seconds it takes then leaves nothing behind.
    provenance, templates = classifier.provenance(), classifier.prompt_templates()
    folder = RunFolder.create(Path(plan.options.runs_dir), task.run_prefix())
    folder.write_json(f"inputs/{task.items_file}", [p.to_dict() for p in plan.items])
    task.snapshot(folder)
    if task.prompting is not None:
        task.prompting.snapshot(folder)
        summary = {**task.prompting.summary(), **summary}
    folder.write_json("inputs/prompt_templates.json", templates)
    folder.copy_in(plan.models_config_path, "config/models.yaml")
    offered, withheld = column_split(plan.items)
    folder.write_json("config/run_config.json", {
        "options": plan.options.to_dict(), "model_entry": plan.entry.to_dict(),
        "columns_offered": offered, "columns_withheld": withheld,
        "input_path": str(plan.input_path) if plan.input_path else None, **task.config_paths(),
        "models_config_path": str(plan.models_config_path), "replay_of": plan.replay_of, "use_case": task.name,
    })
    folder.write_json("config/system_info.json", {**system_info(), "model": provenance})
    recorder = RunRecorder(folder, {
        "run_id": folder.run_id, "use_case": task.name, "status": "running",
        "started_at": utc_now(), "ended_at": None, "model_alias": plan.entry.alias,
        "model_id": plan.entry.model, "model_used": plan.entry.model_used,
        f"{task.items_noun}_total": len(plan.items), "command": command, "git": git_info(PROJECT_ROOT),
        "replay_of": plan.replay_of, "resumes": [], "sessions": [],
        "tags": list(plan.options.tags), "note": plan.options.note,
        "file_sha256": folder.hashes(), **summary,
    })
    recorder.save()
    return folder, recorder


def new_classifier(plan: Plan) -> Classifier:
    first = create_classifier(plan.entry, plan.task, explain=plan.options.explain)
    if plan.escalation is None:
        return first
    from labnb.classify.cascade import CascadeClassifier

    second = create_classifier(plan.escalation, plan.task, explain=plan.options.explain)
    assert plan.options.escalate_below is not None
    from labnb.pacing.concurrency import initial

    return CascadeClassifier(first, second, plan.task, plan.options.escalate_below, plan.entry, plan.escalation,
                             initial(plan.options.concurrency))


def run_new(plan: Plan, command: list[str]) -> RunResult:
    clock = time.perf_counter()
    classifier = new_classifier(plan)
    folder, recorder = start(plan, classifier, command)  # loads a local model (provenance hashes its weights)
    return execute(plan, folder, recorder, classifier, plan.items, mode="new",
                   setup_seconds=plan.prepare_seconds + time.perf_counter() - clock)


def pending_items(plan: Plan, folder: RunFolder, redo: tuple[str, ...] = ()) -> list[Item]:
    """Items without a finished row, plus those whose latest status is in ``redo``."""
    latest = latest_rows(folder.file("outputs"), plan.task.id_column)
    return [
        p for p in plan.items
        if p.item_id not in latest or latest[p.item_id]["status"] not in DONE_STATUSES
        or latest[p.item_id]["status"] in redo
    ]


def execute(plan: Plan, folder: RunFolder, recorder: RunRecorder, classifier: Classifier,
            todo: list[Item], *, mode: str, setup_seconds: float = 0.0) -> RunResult:
    """Classify ``todo`` into ``folder``; status RUNNING → final status in one try/except/finally."""
    session = {"mode": mode, "started_at": utc_now(), plan.task.items_noun: len(todo),
               "setup_seconds": round(setup_seconds, 3)}
    recorder.summary.setdefault("sessions", []).append(session)
    recorder.update(status="running", ended_at=None, pid=os.getpid(), host=socket.gethostname())
    # Calls an earlier session sent and never settled (kill -9) go on record first, as unsettled.
    unsettled = record_unsettled(folder.file("outputs"))
    if unsettled:
        session["calls_unsettled_found"] = unsettled
    # Ids are taken when a call starts but logged when it ends, so after a crash the log can have gaps:
    # continue after the highest id, never after the count.
    previous = [c.get("call_id", "") for c in read_jsonl(folder.file("outputs/calls.jsonl"))]
    classifier.start_call_ids(max((int(c[1:]) for c in previous if c[1:].isdigit()), default=0) + 1)
    ledger = open_ledger(plan, folder.file("outputs"))
    writer = OutputWriter(folder.file("outputs"), plan.task, plan.items, plan.entry.model_used)
    # A budget or a models.yaml token cap counts input tokens exactly; otherwise pacing calibrates an estimate.
    classifier.attach(ledger, on_call=writer.write_call, on_send=writer.send,
                      exact_tokens=plan.options.max_cost is not None or plan.entry.tpm is not None)
    llm = any(e is not None and e.provider != "local" for e in (plan.entry, plan.escalation))
    cache = response_cache.for_run(plan.options) if llm else None
    if cache is not None:  # a replay re-asks every request by design: it only keeps answers
        classifier.use_cache(cache, folder.run_id, read=plan.replay_of is None)
    clock = time.perf_counter()
    status, abort = "failed", None
    stop = StopSignal()
    try:
        asyncio.run(_process(plan, classifier, todo, writer, recorder, stop, ledger))
        status = stop.reason or "done"
    except RunAborted as exc:
        abort = exc
        writer.note(f"run aborted: {exc}")
    except KeyboardInterrupt:
        status = "interrupted"
    except BaseException as exc:
        writer.note("internal error: " + " | ".join(traceback.format_exception_only(type(exc), exc)).strip())
        recorder.summary["failure"] = scrub(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        writer.close()
        session["ended_at"] = utc_now()
        session["duration_seconds"] = round(time.perf_counter() - clock, 3)
        if status == "failed" and abort is None:
            recorder.update(status="failed", ended_at=utc_now())
    if abort is not None:
        recorder.summary["failure"] = scrub(str(abort))
    result = finalize_run(plan, folder, recorder, status="failed" if abort else status)
    if abort is not None:
        abort.result = result  # type: ignore[attr-defined]  # lets the CLI still print the summary line
        raise abort
    return result


async def _process(plan: Plan, classifier: Classifier, todo: list[Item], writer: OutputWriter,
                   recorder: RunRecorder, stop: StopSignal, ledger: Ledger) -> None:
    entry, options = plan.entry, plan.options
    size = classifier.batch_size(options.batch_size)
    groups = batches(todo, size)
    counts: Counter[str] = Counter()
    spent_tokens = 0
    refused = 0  # requests inside a batch the budget refused (a single retry, a repair, an escalation)
    limiter = RateLimiter(entry.rpm, entry.tpm)
    progress = Progress(len(todo), enabled=len(todo) > 1, desc=entry.alias, unit=plan.task.item_noun,
                        status=limiter.status)
    limiter.on_wait = progress.refresh

    def tokens_of(batch: list[Item]) -> int:
        return classifier.estimate_tokens(batch, exact=classifier.exact_tokens)

    def on_result(batch: list[Item], outcome: BatchOutcome) -> None:
        nonlocal spent_tokens, refused
        writer.write(outcome)
        spent_tokens += sum((c.usage for c in outcome.calls if not c.cache_hit), Usage()).total_tokens
        refused += outcome.refused
        counts.update(r.status for r in outcome.results)
        progress.advance(len(outcome.results), failed=counts["error"] + counts["invalid"],
                         tokens=spent_tokens, cost=ledger.settled)

    # A server of the user's own (llama-server, Ollama, vLLM) may queue what it cannot serve: auto probes it first.
    executor = Executor(work=classifier.classify, on_result=on_result, concurrency=options.concurrency,
                        limiter=limiter, tokens_of=tokens_of, probe=bool(entry.base_url or entry.base_url_env),
                        deadline=entry.timeout)
    loop = asyncio.get_running_loop()
    handled = _install_signals(loop, stop)
    heartbeat = asyncio.create_task(recorder.heartbeat())
    try:
        await executor.run(groups, stop)
        if (executor.refused or refused) and not stop.reason:  # smaller requests that fitted ran; these did not
            stop.reason = "budget_exhausted"
    finally:
        recorder.summary["sessions"][-1][SESSION_KEY] = executor.stats().to_dict()
        heartbeat.cancel()
        for sig in handled:
            loop.remove_signal_handler(sig)
        progress.close()
        with contextlib.suppress(Exception):
            await classifier.aclose()


def _install_signals(loop: asyncio.AbstractEventLoop, stop: StopSignal) -> list[int]:
    """Ctrl-C, SIGTERM and SIGHUP (a closed terminal) stop new calls; in-flight ones get a few seconds to finish."""
    handled: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            loop.add_signal_handler(sig, stop.set, "interrupted")
            handled.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    return handled
