"""Export run folders and experiments to MLflow: params, metrics, tags, the folder as artifacts, the table.

An experiment becomes an MLflow experiment with its cells as runs; a lone run goes to an MLflow experiment
named for its use case. Runs are matched on the ``labnb.run_id`` tag, so exporting twice creates nothing; a
run folder that changed since (a resume finished it) is updated in place: its status, metrics, new params and
artifacts, recognised by the ``labnb.fingerprint`` tag (the sha256 of its summary, metrics and usage).

A store that cannot be written or reached is one ``ExportFailed`` line, within ``timeout`` seconds per request.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labnb.errors import ConfigError, LabError, UsageError
from labnb.experiments import leaderboard
from labnb.experiments.cells import CellState
from labnb.experiments.folder import ExperimentFolder
from labnb.experiments.scheduler import run_json
from labnb.experiments.usecases import use_case_of
from labnb.store.scrub import redact_url

RUN_TAG = "labnb.run_id"
FINGERPRINT_TAG = "labnb.fingerprint"
FINGERPRINTED = ("metadata/run_summary.json", "outputs/metrics.json", "outputs/token_usage.json")
DEFAULT_TIMEOUT = 30.0
MLFLOW_STATUS = {"completed": "FINISHED", "completed_with_errors": "FINISHED", "budget_exhausted": "FINISHED",
                 "interrupted": "KILLED", "running": "RUNNING"}


class ExportFailed(LabError):
    """The tracking store could not be reached, read or written."""


@dataclass(frozen=True)
class Exported:
    run_id: str
    experiment: str
    mlflow_run_id: str
    action: str  # "exported" (new), "updated" (the run folder changed since), "already there"

    @property
    def created(self) -> bool:
        return self.action == "exported"


def fingerprint(run_dir: str) -> str:
    """What identifies a run folder's state: the sha256 of its summary, metrics and usage files."""
    digest = hashlib.sha256()
    for name in FINGERPRINTED:
        path = Path(run_dir) / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"") + b"\0")
    return digest.hexdigest()


def default_tracking_uri(runs_dir: str | Path) -> str:
    """An embedded SQLite store under the runs folder: no server needed."""
    return f"sqlite:///{(Path(runs_dir) / 'mlflow.db').resolve()}"


def is_experiment(path: str | Path) -> bool:
    return (Path(path) / "cells.json").is_file()


def _cells_of(ref: Path) -> tuple[str, list[str], list[CellState]]:
    """(MLflow experiment name, grid keys, cells) for an experiment folder or one run folder."""
    if is_experiment(ref):
        header, cells = ExperimentFolder.open(ref).load()
        return str(header.get("experiment_id") or ref.name), list(header.get("grid_keys") or []), [
            c for c in cells if c.run_dir]
    summary = run_json(str(ref), "metadata/run_summary.json")
    run_id = str(summary.get("run_id") or ref.name)
    return str(summary.get("use_case") or "runs"), [], [CellState(1, run_id, {}, {}, state="done",
                                                                         run_id=run_id, run_dir=str(ref))]


def _flat(prefix: str, data: Any) -> dict[str, str]:
    if isinstance(data, dict):
        out: dict[str, str] = {}
        for key, value in data.items():
            out.update(_flat(f"{prefix}.{key}" if prefix else str(key), value))
        return out
    return {} if data is None else {prefix: str(data)[:6000]}


def _params(run_dir: str) -> dict[str, str]:
    """The model, every option, and the sha256 of every input (prompt, examples, labels, items)."""
    config = run_json(run_dir, "config/run_config.json")
    summary = run_json(run_dir, "metadata/run_summary.json")
    params = {"model": str(summary.get("model_alias") or ""), "model_used": str(summary.get("model_used") or ""),
              **_flat("option", config.get("options") or {})}
    for name, digest in (summary.get("file_sha256") or {}).items():
        if name.startswith("inputs/"):
            params[f"sha256.{name}"] = str(digest)
    return params


def _metrics(run_dir: str, row: dict[str, Any]) -> dict[str, float]:
    flat = {k: v for k, v in run_json(run_dir, "outputs/metrics.json").items()}
    flat.update(row)
    return {k: float(v) for k, v in flat.items()
            if isinstance(v, (int, float)) and v is not None and k not in ("cell", "run_id")}


def check_uri(tracking_uri: str) -> None:
    """Refuse, before anything is written, a store MLflow 3 will not take: a plain folder or ``file://``."""
    scheme = tracking_uri.split(":", 1)[0].lower() if ":" in tracking_uri else ""
    if scheme in ("", "file"):
        raise UsageError(f"--tracking-uri {tracking_uri}: MLflow 3 no longer writes folder stores; give "
                         "sqlite:///PATH/mlflow.db (the default, no server) or an http(s):// tracking server")


@contextlib.contextmanager
def _http_limits(timeout: float) -> Iterator[None]:
    """Every request to a tracking server ends within ``timeout`` seconds, and is not retried."""
    wanted = {"MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, math.ceil(timeout))), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    before = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def export(refs: list[Path], tracking_uri: str, *, timeout: float = DEFAULT_TIMEOUT) -> list[Exported]:
    """Log every run of ``refs`` (run or experiment folders) to MLflow at ``tracking_uri``: new runs are created,
    changed ones updated, the others left as they are. A store that fails is one ``ExportFailed``."""
    check_uri(tracking_uri)
    try:  # an optional install (requirements-dev.txt): the runs themselves never need MLflow
        import alembic  # noqa: F401  (the SQLite store's migrations)
        import mlflow  # noqa: F401 (configures its loggers on import: quieten them after)
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        missing = (exc.name or "mlflow").split(".")[0]
        raise ConfigError(f"export-mlflow needs mlflow-skinny, sqlalchemy and alembic ({missing} is missing): "
                          "pip install mlflow-skinny sqlalchemy alembic") from None

    # The store's first migrations log at INFO, and a failing store logs its whole SQL at ERROR before raising:
    # the failure is ours to say, in one line.
    for logger in ("mlflow", "alembic"):
        logging.getLogger(logger).setLevel(logging.CRITICAL)
    try:
        with _http_limits(timeout):
            return _export(refs, tracking_uri)
    except (LabError, KeyboardInterrupt):
        raise
    except Exception as exc:  # MlflowException, SQLAlchemy's and requests' errors, OSError: the store's fault
        cause = _root_cause(exc)
        first = (str(getattr(cause, "message", "") or cause).strip().splitlines() or [""])[0][:300]
        raise ExportFailed(f"MLflow store {redact_url(tracking_uri)}: {type(cause).__name__}: {first}") from None


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception of a chain (``attempt to write a readonly database``, ``Connection refused``)."""
    seen = {id(exc)}
    while (inner := exc.__cause__ or exc.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    return exc


def _export(refs: list[Path], tracking_uri: str) -> list[Exported]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    local = tracking_uri.startswith("sqlite:///")
    done = []
    for ref in refs:
        name, grid_keys, cells = _cells_of(ref)
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            where = Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlflow-artifacts" / name
            experiment_id = client.create_experiment(name, artifact_location=where.as_uri() if local else None)
        else:
            experiment_id = experiment.experiment_id
        use = use_case_of(run_json(str(cells[0].run_dir), "metadata/run_summary.json")) if cells else None
        board = leaderboard.build(use, grid_keys, cells) if use else None
        for result in board.results if board and use else []:
            assert use is not None
            run_id, mark = str(result.cell.run_id), fingerprint(str(result.cell.run_dir))
            found = client.search_runs([experiment_id], filter_string=f"tags.`{RUN_TAG}` = '{run_id}'",
                                       max_results=1)
            if found and found[0].data.tags.get(FINGERPRINT_TAG) == mark:
                done.append(Exported(run_id, name, found[0].info.run_id, "already there"))
                continue
            experiment_tags = {"labnb.experiment_id": name, "labnb.cell": result.cell.name} if is_experiment(ref) \
                else {}
            mlflow_id = _log(client, experiment_id, found[0] if found else None, result, use.name, mark,
                             experiment_tags)
            done.append(Exported(run_id, name, mlflow_id, "updated" if found else "exported"))
    return done


def _log(client: Any, experiment_id: str, existing: Any, result: Any, use_case: str, mark: str,
         extra_tags: dict[str, str]) -> str:
    """Create the MLflow run of ``result`` (or bring ``existing`` up to date): tags, metrics, params, artifacts."""
    from mlflow.entities import Metric, Param, RunTag

    cell, run_dir = result.cell, str(result.cell.run_dir)
    summary = run_json(run_dir, "metadata/run_summary.json")
    tags = {RUN_TAG: str(cell.run_id), "labnb.use_case": use_case, "labnb.status": str(summary.get("status")),
            "mlflow.runName": str(cell.run_id), FINGERPRINT_TAG: mark, **extra_tags}
    if existing is None:
        mlflow_id = client.create_run(experiment_id, tags=tags).info.run_id
        old_params: dict[str, str] = {}
    else:
        mlflow_id, old_params = existing.info.run_id, dict(existing.data.params)
    stamp = int(time.time() * 1000)  # a later value at the same step is the one MLflow shows
    params = {**_params(run_dir), **{f"grid.{k}": str(v) for k, v in cell.values.items()}}
    # MLflow params never change once logged: a resume's new values (--max-cost…) are in the run folder's artifacts.
    client.log_batch(mlflow_id, metrics=[Metric(k, v, stamp, 0) for k, v in
                                         sorted(_metrics(run_dir, result.row).items())],
                     params=[Param(k, v) for k, v in sorted(params.items()) if k not in old_params],
                     tags=[RunTag("labnb", "1"), *(RunTag(k, v) for k, v in sorted(tags.items()))])
    client.log_artifacts(mlflow_id, run_dir, artifact_path="run_folder")
    if not result.table.empty:
        client.log_table(mlflow_id, data=result.table, artifact_file="classifications.json")
    client.set_terminated(mlflow_id, status=MLFLOW_STATUS.get(str(summary.get("status")), "FAILED"))
    return mlflow_id
