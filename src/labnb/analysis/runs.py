"""Run folders as pandas objects: one run's classifications, or one summary row per run, of any use case."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from labnb.errors import InputError
from labnb.registry import task_class
from labnb.store.lifecycle import STALE_AFTER_SECONDS
from labnb.store.records import RunSummary, Timing, TokenUsage
from labnb.task import FRAMEWORK_COLUMNS, Task

# The project's runs/, where the runner writes by default (plan.PROJECT_ROOT / "runs"), whatever the cwd.
DEFAULT_RUNS_DIR = Path(__file__).resolve().parents[3] / "runs"
SUMMARY_FILE = Path("metadata") / "run_summary.json"
FLOAT_COLUMNS = ("latency_ms", "confidence")
# Keys of a run's one-line summary, in display order (``load_runs`` columns, ``list --json`` fields).
RUN_FIELDS = (
    "run_id", "use_case", "model", "model_used", "status", "started_at", "items", "ok", "failures",
    "not_run", "accuracy", "cost_usd", "duration_s", "total_tokens", "prompt_tokens",
    "completion_tokens", "calls", "retries", "latency_p50_ms", "latency_p95_ms", "tags", "note", "input",
    "batch_size", "labels", "path",
)


class RunNotFound(InputError):
    """A path or run id that does not name a run folder."""


def is_run_dir(path: str | Path) -> bool:
    return (Path(path) / SUMMARY_FILE).is_file()


def resolve_run(ref: str | Path, runs_dir: str | Path = DEFAULT_RUNS_DIR) -> Path:
    """The run folder ``ref`` names: a path to one, or a run id under ``runs_dir``."""
    path = Path(ref)
    if is_run_dir(path):
        return path
    by_id = Path(runs_dir) / str(ref)
    if path.name == str(ref) and is_run_dir(by_id):
        return by_id
    if path.is_dir():
        raise RunNotFound(f"{ref}: not a run folder (no {SUMMARY_FILE.as_posix()} inside)")
    raise RunNotFound(f"{ref}: no such run folder, nor a run id under {runs_dir}/ (see: analyze_runs.py list)")


def read_json(path: Path, default: Any = None) -> Any:
    """``path`` parsed as a JSON object, ``default`` when absent; anything else is a one-line InputError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return default
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: unreadable: {type(exc).__name__}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {exc.lineno}: malformed JSON: {exc.msg}") from None
    except RecursionError:
        raise InputError(f"{path}: malformed JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    return data


def complete_lines(text: str) -> str:
    """``text`` without a torn last line (a crash mid-write): rows never span lines, so only the tail can tear."""
    return text if not text or text.endswith("\n") else text[: text.rfind("\n") + 1]


def read_classifications(run_dir: Path, task: type[Task]) -> pd.DataFrame:
    """``outputs/classifications.csv`` with text kept as text, numbers and ``correct`` typed; a streamed run
    past the CSV size keeps ``outputs/classifications/part-*.parquet`` instead, read the same way."""
    path = run_dir / "outputs" / "classifications.csv"
    names = (task.id_column, task.text_column, *task.answer_columns, *FRAMEWORK_COLUMNS)
    empty = pd.DataFrame({c: pd.Series(dtype=float if c in FLOAT_COLUMNS else str) for c in names})
    parts = run_dir / "outputs" / "classifications"
    if not path.is_file() and any(parts.glob("part-*.parquet")):
        return read_parts(parts)
    if not path.is_file():
        return empty
    try:
        text = complete_lines(path.read_text(encoding="utf-8"))
        if not text:  # nothing written yet, or a torn header
            return empty
        # dtype=str + no NA guessing: ids like "007" or "NA" stay as written.
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"{path}: unreadable CSV: {' '.join(str(exc).split())}") from None
    for col in FLOAT_COLUMNS:
        if col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)  # "" -> NaN
    if "correct" in df.columns:
        df["correct"] = df["correct"].str.strip().str.lower().isin(("true", "1", "yes"))
    return df


def read_parts(parts: Path) -> pd.DataFrame:
    """The Parquet parts of a streamed run, in input order (text as text, numbers and ``correct`` typed)."""
    try:
        df = pd.concat([pd.read_parquet(p) for p in sorted(parts.glob("part-*.parquet"))], ignore_index=True)
    except ImportError:
        raise InputError(f"{parts}: reading Parquet parts needs pyarrow: pip install '.[ray]'") from None
    if "correct" in df.columns:  # as from the CSV: an unscored row (empty) reads False
        df["correct"] = df["correct"].fillna(False).astype(bool)
    return df


def load_run(path: str | Path, runs_dir: str | Path = DEFAULT_RUNS_DIR) -> pd.DataFrame:
    """The run's classifications; ``df.attrs`` holds run_id, summary, token_usage, timing, metrics, run_config,
    path and use_case."""
    run_dir = resolve_run(path, runs_dir)
    summary = read_json(run_dir / SUMMARY_FILE, {})
    # validated; older folders read as today's format
    summary = RunSummary.from_dict(summary, str(run_dir / SUMMARY_FILE)).to_dict()
    task = task_class(summary.get("use_case"))
    df = read_classifications(run_dir, task)
    metrics = read_json(run_dir / "outputs" / "metrics.json")
    if metrics is None and all(c in df.columns for c in task.gold_columns):
        metrics = task.compute_metrics(df)
    df.attrs = {
        "run_id": summary.get("run_id") or run_dir.name,
        "summary": summary,
        "token_usage": TokenUsage.read(run_dir / "outputs" / "token_usage.json"),
        "timing": Timing.read(run_dir / "outputs" / "timing.json"),
        "metrics": metrics or {},
        "run_config": read_json(run_dir / "config" / "run_config.json", {}),
        "path": str(run_dir),
        "use_case": task.name,
    }
    return df


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def display_status(summary: dict, now: datetime | None = None) -> str:
    """The summary's status, but ``crashed?`` for a ``running`` run whose heartbeat is stale."""
    status = str(summary.get("status") or "unknown")
    if status != "running":
        return status
    beat = _parse_time(summary.get("updated_at") or summary.get("started_at"))
    if beat is None:
        return status
    # A naive timestamp is local time, as datetime.now().isoformat() writes it.
    current = now or (datetime.now(UTC) if beat.tzinfo else datetime.now())
    if current.tzinfo and not beat.tzinfo:
        beat = beat.astimezone()
    elif beat.tzinfo and not current.tzinfo:
        current = current.astimezone()
    return "crashed?" if (current - beat).total_seconds() > STALE_AFTER_SECONDS else status


def _number(value: Any) -> float | None:
    if isinstance(value, dict):  # an accuracy block rather than a bare number
        value = value.get("accuracy")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _duration(summary: dict, timing: dict) -> float | None:
    if _number(timing.get("total_duration_seconds")) is not None:
        return _number(timing["total_duration_seconds"])
    start, end = _parse_time(summary.get("started_at")), _parse_time(summary.get("ended_at"))
    if start and end and bool(start.tzinfo) == bool(end.tzinfo):
        return round((end - start).total_seconds(), 3)
    return None


def run_record(df: pd.DataFrame, now: datetime | None = None) -> dict[str, Any]:
    """One loaded run (``load_run``) as a flat dict of ``RUN_FIELDS``."""
    a = df.attrs
    summary, usage, timing, metrics = a["summary"], a["token_usage"], a["timing"], a["metrics"]
    task = task_class(a.get("use_case"))
    options = a["run_config"].get("options") or a["run_config"]
    counts = summary.get("counts") if isinstance(summary.get("counts"), dict) else {}
    status = df["status"].value_counts() if "status" in df.columns else pd.Series(dtype=int)

    def count(key: str) -> int:
        return int(counts[key]) if isinstance(counts.get(key), int) else int(status.get(key, 0))

    return {
        "run_id": a["run_id"],
        "use_case": summary.get("use_case", ""),
        "model": summary.get("model_alias") or a["run_config"].get("model") or summary.get("model_used", ""),
        "model_used": summary.get("model_used") or usage.get("model_used", ""),
        "status": display_status(summary, now),
        "started_at": summary.get("started_at", ""),
        "items": int(counts["total"]) if isinstance(counts.get("total"), int) else len(df),
        "ok": count("ok"),
        "failures": count("invalid") + count("error"),
        "not_run": count("not_run"),
        "accuracy": _number(summary.get("accuracy")) if _number(summary.get("accuracy")) is not None
        else _number(metrics.get("accuracy")),
        "cost_usd": _number(usage.get("cost_usd")),
        "duration_s": _duration(summary, timing),
        "total_tokens": usage.get("total_tokens"),
        "prompt_tokens": usage.get("total_prompt_tokens"),
        "completion_tokens": usage.get("total_completion_tokens"),
        "calls": usage.get("calls_made"),
        "retries": usage.get("retries"),
        "latency_p50_ms": _number(timing.get("latency_p50_ms")),
        "latency_p95_ms": _number(timing.get("latency_p95_ms")),
        "tags": ",".join(str(t) for t in summary.get("tags") or []),
        "note": summary.get("note") or "",
        "input": Path(str(options.get("input"))).name if options.get("input") else "(single)",
        "batch_size": options.get("batch_size"),
        "labels": Path(str(options.get(task.labels_option) or "")).name,
        "path": a["path"],
        **{name: _number(metrics.get(name)) for name in task.summary_metrics},
    }


def run_fields(records: list[dict[str, Any]]) -> list[str]:
    """``RUN_FIELDS`` and, after ``accuracy``, the use cases' own summary metrics (e.g. a level's accuracy)."""
    extra = [k for r in records for k in r if k not in RUN_FIELDS and k not in ("error", "experiment")]
    at = RUN_FIELDS.index("accuracy") + 1
    experiment = ["experiment"] if any("experiment" in r for r in records) else []
    return [*RUN_FIELDS[:at], *dict.fromkeys(extra), *RUN_FIELDS[at:], *experiment]


def _unreadable(child: Path, reason: str) -> dict[str, Any]:
    reason = reason.removeprefix(f"{child}/").removeprefix(f"{child}: ")
    return {**dict.fromkeys(RUN_FIELDS), "run_id": child.name, "status": f"unreadable: {reason}",
            "path": str(child), "error": reason}


EXPERIMENTS_DIR = "experiments"  # run_experiment.py's folders: <exp>/runs/<cell>/<run-id>/
NOT_RUNS = frozenset({"mlflow-artifacts"})  # export-mlflow's artifact store beside its mlflow.db


def run_records(runs_dir: str | Path = DEFAULT_RUNS_DIR, now: datetime | None = None) -> list[dict[str, Any]]:
    """A ``run_record`` per run folder under ``runs_dir`` and inside its experiments (with ``experiment``: the
    experiment's folder name), oldest first; a folder that is not a readable run is listed with status
    ``unreadable: <reason>`` (one broken run never hides the others)."""
    root = Path(runs_dir)
    if not root.is_dir():
        raise InputError(f"{runs_dir}: no such runs directory")
    records = []
    for child in _subdirs(root):
        if child.name == EXPERIMENTS_DIR and not is_run_dir(child):
            records += [{**_record(run, now), "experiment": experiment.name} for experiment in _subdirs(child)
                        for cell in _subdirs(experiment / "runs") for run in _subdirs(cell)]
        elif child.name not in NOT_RUNS:
            records.append(_record(child, now))
    return sorted(records, key=lambda r: (str(r.get("started_at") or ""), r["run_id"]))


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) if folder.is_dir() else []


def _record(child: Path, now: datetime | None) -> dict[str, Any]:
    if not is_run_dir(child):
        return _unreadable(child, f"no {SUMMARY_FILE.as_posix()}")
    try:
        return run_record(load_run(child), now)
    except InputError as exc:
        return _unreadable(child, str(exc))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError, OSError) as exc:  # foreign content
        return _unreadable(child, f"{type(exc).__name__}: {exc}")


def load_readable(refs: list[str], runs_dir: str | Path = DEFAULT_RUNS_DIR) -> tuple[list[pd.DataFrame], list[str]]:
    """The named runs that load, and one ``RUN: unreadable: reason`` line per run folder that does not.

    A ref that names no run folder at all is still an error (a typo, not a broken run).
    """
    runs, skipped = [], []
    for ref in refs:
        run_dir = resolve_run(ref, runs_dir)
        try:
            df = load_run(run_dir)
            run_record(df)  # the fields compare and report read must make sense too
            runs.append(df)
        except (InputError, ValueError, TypeError, KeyError, AttributeError, RecursionError, OSError) as exc:
            skipped.append(f"{ref}: unreadable: {exc}")
    return runs, skipped


def load_runs(runs_dir: str | Path = DEFAULT_RUNS_DIR, now: datetime | None = None) -> pd.DataFrame:
    """One row per run under ``runs_dir`` (columns ``RUN_FIELDS``)."""
    records = run_records(runs_dir, now)
    errors = ["error"] if any("error" in r for r in records) else []
    return pd.DataFrame(records, columns=[*run_fields(records), *errors])
