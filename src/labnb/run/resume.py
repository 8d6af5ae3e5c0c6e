"""Continue a run in its own folder (``--resume``, ``--retry-failed``) or start one from it (``--replay``)."""

from __future__ import annotations

import datetime as dt
import os
import socket
from pathlib import Path
from typing import Any

from labnb.errors import InputError, UsageError
from labnb.pacing.budget import check_max_cost
from labnb.run.plan import Plan, check_options, from_run
from labnb.run.result import RunResult
from labnb.run.runner import execute, new_classifier, pending_items, run_new
from labnb.store.jsonio import read_jsonl
from labnb.store.lifecycle import STALE_AFTER_SECONDS, RunRecorder
from labnb.store.logs import read_csv_rows
from labnb.store.runfolder import RunFolder
from labnb.store.timeutil import parse_utc, utc_now
from labnb.task import Task


def _check_snapshot(folder: RunFolder, recorder: RunRecorder) -> None:
    """Refuse to continue a run whose recorded inputs or config were edited since it started."""
    recorded: dict[str, str] = recorder.summary.get("file_sha256") or {}
    now = folder.hashes()
    for name, digest in recorded.items():
        if now.get(name) != digest:  # only inputs/ and config/ are recorded
            raise InputError(f"{folder.file(name)}: changed since the run started; cannot resume a modified snapshot")


def _check_alive(folder: RunFolder, recorder: RunRecorder) -> None:
    """Refuse to resume a run that another process is still writing (its pid lives, or its heartbeat is fresh)."""
    summary = recorder.summary
    if summary.get("status") != "running" or not summary.get("updated_at"):
        return
    if summary.get("host") == socket.gethostname() and isinstance(summary.get("pid"), int):
        if not _pid_alive(summary["pid"]):
            return  # crashed on this machine: safe to continue at once
        raise UsageError(f"{folder.path}: still running as process {summary['pid']}; stop it first")
    age = (dt.datetime.now(dt.UTC) - parse_utc(recorder.summary["updated_at"])).total_seconds()
    if age < STALE_AFTER_SECONDS:
        raise UsageError(f"{folder.path}: still running (heartbeat {age:.0f} s ago); if its process is gone, "
                         f"resume after {STALE_AFTER_SECONDS:.0f} s without a heartbeat")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _check_call_log(folder: RunFolder) -> None:
    """Refuse a run whose call log lost calls its rows refer to: its tokens and cost could not be recomputed."""
    rows = read_csv_rows(folder.file("outputs/classifications.csv"))
    path = folder.file("outputs/calls.jsonl")
    referenced = {r.get("call_id") or "" for r in rows} - {""}
    if not referenced:
        return
    if not path.is_file():
        raise InputError(f"{path}: missing, but {len(rows)} rows were written; without the call log the run's "
                         "tokens and cost cannot be recomputed, so it cannot be resumed")
    logged = {str(c.get("call_id", "")) for c in read_jsonl(path)}
    lost = sorted(referenced - logged)
    if lost:
        raise InputError(f"{path}: lacks {len(lost)} calls that rows refer to (first {lost[0]}); the run's tokens "
                         "and cost cannot be recomputed, so it cannot be resumed")


def continue_run(task: Task, run_dir: str | Path, command: list[str], *, retry_failed: bool = False,
                 batch_api: bool = False, wait: bool = False, **overrides: Any) -> RunResult:
    """Finish an interrupted or crashed run, or re-run its failed items, in the same folder.

    A run submitted to a provider's batch API is collected instead; ``batch_api`` with
    ``retry_failed`` sends the failed items through the batch API again. ``overrides`` are the options
    that do not change the experiment (``max_cost``, ``concurrency``, ``timeout``).
    """
    check_max_cost(overrides.get("max_cost"))  # before the folder is touched
    folder = RunFolder.open(Path(run_dir)).lock()  # a second process is refused at once, released by the OS
    recorder = RunRecorder.load(folder)
    _check_alive(folder, recorder)
    _check_snapshot(folder, recorder)
    _check_call_log(folder)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    plan = from_run(task, folder, **overrides)
    if retry_failed and recorder.summary.get("status") == "submitted":  # its answers are still at the provider
        raise UsageError(f"{folder.path}: its batches are not collected yet; collect them first with --resume")
    if recorder.summary.get("batch_api") and not retry_failed:
        from labnb.run.batch_run import collect

        return collect(plan, folder, recorder, command)
    if retry_failed and batch_api:
        from labnb.run.batch_run import resubmit

        return resubmit(plan, folder, recorder, pending_items(plan, folder, ("error", "invalid")), command,
                        wait=wait)
    redo = ("error", "invalid") if retry_failed else ()
    todo = pending_items(plan, folder, redo)
    mode = "retry-failed" if retry_failed else "resume"
    recorder.summary.setdefault("resumes", []).append({
        "at": utc_now(), "mode": mode, "previous_status": recorder.summary.get("status"),
        task.items_noun: len(todo), "command": command, "overrides": overrides,
    })
    classifier = new_classifier(plan)
    return execute(plan, folder, recorder, classifier, todo, mode=mode)


def replay_plan(task: Task, run_dir: str | Path, **overrides: Any) -> Plan:
    """The plan of a new run from ``run_dir``'s snapshot alone (today's config files are ignored)."""
    folder = RunFolder.open(Path(run_dir))
    plan = from_run(task, folder, **{k: v for k, v in overrides.items() if v is not None})
    plan.options.check()
    check_options(plan.options, plan.entry)
    if plan.options.limit is not None:
        plan.items = plan.items[: plan.options.limit]
    plan.replay_of = folder.run_id
    return plan


def replay(task: Task, run_dir: str | Path, command: list[str], **overrides: Any) -> RunResult:
    """A new run from ``run_dir``'s snapshot alone; today's config files are ignored."""
    return run_new(replay_plan(task, run_dir, **overrides), command)
