"""The end of a run session: the table in input order, totals, metrics, summary and one summary line."""

from __future__ import annotations

from collections import Counter
from typing import Any

from labnb.classify.cascade import cascade_token_usage, stage_metrics
from labnb.config import ModelEntry
from labnb.cost.totals import timing, token_usage
from labnb.pacing.ratestats import timing_fields, usage_fields
from labnb.run.outputs import finalize_table
from labnb.run.plan import Plan
from labnb.run.result import EXIT_CODES, RunResult
from labnb.store.calls import CallRecord
from labnb.store.jsonio import read_jsonl
from labnb.store.lifecycle import RunRecorder
from labnb.store.records import Timing, TokenUsage
from labnb.store.runfolder import RunFolder
from labnb.store.timeutil import utc_now


def final_status(status: str, counts: Counter[str]) -> str:
    if status in ("interrupted", "budget_exhausted", "failed"):
        return status
    return "completed" if counts["ok"] == sum(counts.values()) else "completed_with_errors"


def finalize_run(plan: Plan, folder: RunFolder, recorder: RunRecorder, *, status: str) -> RunResult:
    """Write every end-of-run file from what the logs hold, and the run's final status."""
    outputs = folder.file("outputs")
    rows = finalize_table(outputs, plan.task, plan.items, plan.entry.model_used)
    counts = Counter(row["status"] for row in rows)
    calls = [CallRecord.from_dict(c) for c in read_jsonl(outputs / "calls.jsonl")]
    if plan.escalation is None:
        usage = run_token_usage(calls, plan.entry)
    else:
        usage = cascade_token_usage(calls, plan.entry, plan.escalation, run_token_usage)
    sessions = recorder.summary.get("sessions", [])
    folder.write_json("outputs/token_usage.json", TokenUsage.build({**usage, **usage_fields(sessions)}).to_dict())
    setup = sum(s.get("setup_seconds", 0.0) for s in sessions)
    duration = setup + sum(s.get("duration_seconds", 0.0) for s in sessions)
    processed = sum(counts[s] for s in ("ok", "invalid", "error"))
    folder.write_json("outputs/timing.json", Timing.build({
        **timing(calls, duration, processed, counts["invalid"] + counts["error"], setup=setup,
                 noun=plan.task.item_noun), **timing_fields(sessions)}).to_dict())
    accuracy: float | None = None
    if plan.with_gold:
        metrics = plan.task.write_metrics(folder.path)
        score = metrics.get("accuracy")
        accuracy = float(score) if isinstance(score, int | float) else None
        if plan.escalation is not None:
            metrics["cascade"] = stage_metrics(plan.task, plan.items, rows, plan.entry.model_used,
                                               plan.options.escalate_below or 0.0)
            folder.write_json("outputs/metrics.json", metrics)
    final = final_status(status, counts)
    recorder.update(
        status=final, ended_at=utc_now(),
        counts={s: counts[s] for s in ("ok", "invalid", "error", "not_run")} | {"total": len(rows)},
        accuracy=accuracy, cost_usd=usage["cost_usd"], total_tokens=usage["total_tokens"],
        calls_cancelled=usage["calls_cancelled"], calls_from_cache=usage.get("calls_from_cache", 0),
        cost_usd_from_cache=usage.get("cost_usd_from_cache", 0.0),
        calls_unsettled=usage["calls_unsettled"],
        cost_usd_unsettled_max=usage["cost_usd_unsettled_max"],
        duration_seconds=round(duration, 3), file_sha256=folder.hashes(),
    )
    line = summary_line(folder, final, counts, usage, duration, accuracy, why_failed(rows))
    return RunResult(folder, final, EXIT_CODES[final], line, plan.task)


def run_token_usage(calls: list[CallRecord], entry: ModelEntry) -> dict[str, Any]:
    """token_usage.json: batch-API calls (attempt "batch") at the batch rate, any other call at the standard rate."""
    batch = [c for c in calls if c.attempt == "batch"]
    usage = token_usage(calls, entry, batch=bool(batch))
    if batch:
        rates = {"batch": token_usage(batch, entry, batch=True),
                 "standard": token_usage([c for c in calls if c.attempt != "batch"], entry)}
        breakdown = {k: round(sum(r["cost_breakdown"][k] for r in rates.values()), 10)
                     for k, v in usage["cost_breakdown"].items() if not isinstance(v, bool)}
        usage.update(cost_usd=breakdown["total_usd"], cost_breakdown={**breakdown, "batch_discount_applied": True},
                     batch_calls=len(batch), cost_by_rate={k: r["cost_usd"] for k, r in rates.items()})
    return usage


ERROR_KINDS = {"connection": "connection error", "timeout": "timeout", "rate_limit": "rate limited",
               "server_error": "server error", "bad_request": "bad request", "bad_response": "bad response",
               "context_exceeded": "prompt longer than the context"}
REASON_CHARS = 160


def why_failed(rows: list[dict[str, Any]]) -> str:
    """For a run where nothing was classified: the commonest failure, ``(86 × connection error: …; see …)``."""
    failed = [r for r in rows if r.get("status") in ("error", "invalid")]
    if not failed or any(r.get("status") == "ok" for r in rows):
        return ""
    reasons = Counter(
        (ERROR_KINDS.get(r.get("error_type") or "", r.get("error_type") or "invalid answer"),
         (r.get("error") or "").split("\n")[0]) for r in failed)
    (kind, text), n = reasons.most_common(1)[0]
    text = text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"
    more = f", and {len(reasons) - 1} other reason{'s' * (len(reasons) > 2)}" if len(reasons) > 1 else ""
    return f" ({n} × {kind}{': ' + text if text else ''}{more}; see outputs/errors.log)"


def summary_line(folder: RunFolder, status: str, counts: Counter[str], usage: dict, duration: float,
                 accuracy: float | None, reason: str = "") -> str:
    failed = counts["invalid"] + counts["error"]
    parts = [
        f"{status}: {counts['ok']} classified, {failed} failed{reason}",
        *([f"{counts['not_run']} not run"] if counts["not_run"] else []),
        *([f"accuracy {accuracy:.1%}"] if accuracy is not None else []),
        f"{usage['total_tokens']:,} tokens", cost_text(usage),
        *([f"+ {usage['calls_cancelled']} calls cancelled in flight (usage unknown)"]
          if usage.get("calls_cancelled") else []),
        *([f"+ {usage['calls_unsettled']} calls unsettled (sent, never answered on record)"]
          if usage.get("calls_unsettled") else []),
        *([f"+ up to ${usage['cost_usd_unsettled_max']:.6f} for calls without usage"]
          if usage.get("cost_usd_unsettled_max") else []),
        f"{duration:.1f}s",
        str(folder.path),
    ]
    return " | ".join(parts)


def cost_text(usage: dict) -> str:
    """``$0.001234``, or with answers from the response cache ``$0.001234 billed, $0.004567 from cache``."""
    if not usage.get("calls_from_cache"):
        return f"${usage['cost_usd']:.6f}"
    return f"${usage['cost_usd']:.6f} billed, ${usage.get('cost_usd_from_cache', 0.0):.6f} from cache"
