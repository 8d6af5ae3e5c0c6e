"""Run a plan through a provider's batch API: submit, then collect into the usual outputs.

Requests are rendered exactly as a synchronous run renders them (same prompts, grouping and
structured output). ``outputs/batch/`` keeps them, the manifest of batches (ids and states) and the
raw results as downloaded; ``batch_results`` turns those into the same rows, calls and totals.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from labnb.batchapi import BatchItem, BatchJob, BatchProvider, create_provider
from labnb.clients.requests import batches
from labnb.errors import ConfigError, UsageError
from labnb.pacing.budget import Budget
from labnb.run.batch_results import settle
from labnb.run.finalize import finalize_run, summary_line
from labnb.run.plan import Plan
from labnb.run.result import EXIT_CODES, EXIT_INTERRUPTED, RunResult
from labnb.run.runner import new_classifier, pending_items, start
from labnb.store.jsonio import read_json
from labnb.store.lifecycle import FINAL_STATUSES, RunRecorder
from labnb.store.runfolder import RunFolder
from labnb.store.timeutil import utc_now
from labnb.task import Item
from labnb.terminal.console import counted

POLL_ENV = "LABNB_BATCH_POLL_SECONDS"
DEFAULT_POLL_SECONDS = 30.0
BATCH_DIR = "outputs/batch"


def poll_seconds() -> float:
    """Seconds between polls of the provider (``LABNB_BATCH_POLL_SECONDS``, default 30)."""
    value = os.environ.get(POLL_ENV, "").strip()
    try:
        seconds = float(value) if value else DEFAULT_POLL_SECONDS
    except ValueError:
        raise ConfigError(f"{POLL_ENV} must be a number of seconds, got {value!r}") from None
    if seconds < 0:
        raise ConfigError(f"{POLL_ENV} must not be negative, got {value!r}")
    return seconds


def submit(plan: Plan, command: list[str], *, wait: bool = False) -> RunResult:
    """A new run whose requests go to the provider's batch API; ``wait`` also collects them."""
    provider = create_provider(plan.entry)  # a provider without a batch API fails before any run folder exists
    classifier = new_classifier(plan)
    _check_budget(plan, classifier, plan.items)
    folder, recorder = start(plan, classifier, command, status="submitted", batch_api=True)
    return _send(plan, folder, recorder, provider, classifier, plan.items, command, mode="batch-submit",
                 wait=wait)


def resubmit(plan: Plan, folder: RunFolder, recorder: RunRecorder, todo: list[Item], command: list[str], *,
             wait: bool = False) -> RunResult:
    """Send ``todo`` (a run's failed items) through the batch API again, in the run's own folder."""
    provider = create_provider(plan.entry)
    recorder.summary.setdefault("resumes", []).append({
        "at": utc_now(), "mode": "retry-failed-batch", "previous_status": recorder.summary.get("status"),
        plan.task.items_noun: len(todo), "command": command,
    })
    if not todo:
        recorder.save()
        return collect(plan, folder, recorder, command, provider=provider)
    classifier = new_classifier(plan)
    _check_budget(plan, classifier, todo)
    recorder.update(status="submitted", batch_api=True, ended_at=None)
    return _send(plan, folder, recorder, provider, classifier, todo, command, mode="retry-failed-batch", wait=wait)


def collect(plan: Plan, folder: RunFolder, recorder: RunRecorder, command: list[str], *,
            provider: BatchProvider | None = None) -> RunResult:
    """Finish any submission, poll until every batch ended, download, settle and finalize the run."""
    interval = poll_seconds()
    provider = provider or create_provider(plan.entry)
    job = BatchJob(folder.file(BATCH_DIR), provider, folder.run_id)
    if not job.parts:  # the submission stopped before its requests were written: start it again
        todo = pending_items(plan, folder)
        if not todo:
            provider.close()
            return finalize_run(plan, folder, recorder, status="done")
        return _send(plan, folder, recorder, provider, new_classifier(plan), todo, command,
                     mode="batch-submit", wait=True)
    with contextlib.closing(provider):
        if all(p.state == "settled" for p in job.parts) and recorder.summary.get("status") in FINAL_STATUSES:
            return _unchanged(folder, recorder)  # collecting twice changes nothing
        recorder.summary.setdefault("resumes", []).append({
            "at": utc_now(), "mode": "batch-collect", "previous_status": recorder.summary.get("status"),
            plan.task.items_noun: len(plan.items), "command": command,
        })
        session, clock = _session(recorder, "batch-collect", plan.task.items_noun, len(plan.items)), time.perf_counter()
        try:
            if job.unsubmitted():
                job.submit()
                print(f"submitted the remaining batches of {folder.path}", file=sys.stderr)
            _record(recorder, job)
            waiting = [p for p in job.parts if p.state == "submitted"]
            if waiting:
                print(f"waiting for {_batches(len(waiting))} at {provider.name}, polling every {interval:g} s; "
                      "Ctrl-C stops waiting, not the batches", file=sys.stderr)
            job.wait(interval)
            job.download()
            settle(plan, folder, job)
        except KeyboardInterrupt:
            ended = sum(p.state not in ("pending", "creating", "submitted") for p in job.parts)
            return RunResult(folder, "submitted", EXIT_INTERRUPTED,
                             f"interrupted: {ended} of {_batches(len(job.parts))} ended, the provider keeps working | "
                             f"collect with: {plan.task.script} --resume {folder.path}")
        finally:
            _end(recorder, job, session, clock)
    return finalize_run(plan, folder, recorder, status="done")


def _send(plan: Plan, folder: RunFolder, recorder: RunRecorder, provider: BatchProvider, classifier: Any,
          todo: Sequence[Item], command: list[str], *, mode: str, wait: bool) -> RunResult:
    job = BatchJob(folder.file(BATCH_DIR), provider, folder.run_id)
    submission = 1 + max((p.submission for p in job.parts), default=0)
    size = classifier.batch_size(plan.options.batch_size)
    session, clock = _session(recorder, mode, plan.task.items_noun, len(todo)), time.perf_counter()
    try:
        parts = job.add(_items(classifier, todo, size, first=job.requests + 1), submission)
        _record(recorder, job)
        job.submit()
    except KeyboardInterrupt:
        provider.close()
        mine = [p for p in job.parts if p.submission == submission]
        sent = sum(p.state not in ("pending", "creating") for p in mine)
        return RunResult(folder, "submitted", EXIT_INTERRUPTED,
                         f"interrupted: {sent} of {_batches(len(mine))} submitted | "
                         f"finish submitting with: {plan.task.script} --resume {folder.path}")
    except BaseException:
        provider.close()
        raise
    finally:
        with contextlib.suppress(Exception):
            asyncio.run(classifier.aclose())
        _end(recorder, job, session, clock)
    requests = counted(sum(p.count for p in parts), "request")
    line = (f"submitted: {_batches(len(parts))} ({requests}) to {provider.name} | "
            f"collect with: {plan.task.script} --resume {folder.path}")
    if wait:
        print(line, file=sys.stderr)
        return collect(plan, folder, recorder, command, provider=provider)
    provider.close()
    return RunResult(folder, "submitted", 0, line)


def _check_budget(plan: Plan, classifier: Any, todo: Sequence[Item]) -> None:
    """A batch cannot stop half-way: with --max-cost, all of it must fit, priced at the batch rate."""
    limit = plan.options.max_cost
    if limit is None:
        return
    budget = Budget(limit, plan.entry.pricing, batch=True)
    groups = batches(todo, classifier.batch_size(plan.options.batch_size))
    cost = sum(budget.estimate(classifier.estimate_tokens(g), classifier.estimate_output_tokens(g)) for g in groups)
    if cost > limit:
        raise UsageError(f"--max-cost {limit:g}: the batches would cost about ${cost:.4f} at the batch rate "
                         "(a rough estimate; --dry-run counts exactly); nothing was submitted")


def _items(classifier: Any, items: Sequence[Item], size: int, *, first: int) -> Iterator[BatchItem]:
    """Every request of a synchronous run over ``items``, with custom ids g000001, g000002, …"""
    for number, group in enumerate(batches(items, size), start=first):
        body = classifier.client.request_params(classifier.requests.build(group))
        yield BatchItem(f"g{number:06d}", body, [p.item_id for p in group])


def _session(recorder: RunRecorder, mode: str, noun: str, count: int) -> dict[str, Any]:
    session = {"mode": mode, "started_at": utc_now(), noun: count}
    recorder.summary.setdefault("sessions", []).append(session)
    recorder.save()
    return session


def _end(recorder: RunRecorder, job: BatchJob, session: dict[str, Any], clock: float) -> None:
    session["ended_at"] = utc_now()
    session["duration_seconds"] = round(time.perf_counter() - clock, 3)
    _record(recorder, job)


def _record(recorder: RunRecorder, job: BatchJob) -> None:
    """A summary of the manifest in run_summary.json: each batch's id and state."""
    recorder.update(batch={
        "provider": job.provider.name, "requests": job.requests,
        "states": dict(sorted(Counter(p.state for p in job.parts).items())),
        "batches": [{"part": p.index, "batch_id": p.batch_id, "state": p.state, "provider_status": p.provider_status,
                     "requests": p.count, "submission": p.submission} for p in job.parts],
    })


def _unchanged(folder: RunFolder, recorder: RunRecorder) -> RunResult:
    """The result of a run already collected, from its own files; nothing is written."""
    summary = recorder.summary
    status = summary["status"]
    usage = read_json(folder.file("outputs/token_usage.json"))
    duration = sum(s.get("duration_seconds", 0.0) for s in summary.get("sessions", []))  # as finalize_run sums it
    line = summary_line(folder, status, Counter(summary.get("counts") or {}), usage, duration, summary.get("accuracy"))
    return RunResult(folder, status, EXIT_CODES.get(status, 1), line)


def _batches(n: int) -> str:
    return f"{n} batch" if n == 1 else f"{n} batches"
