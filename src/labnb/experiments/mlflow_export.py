"""Export run folders and experiments to MLflow: params, metrics, tags, the folder as artifacts, the table.

An experiment becomes an MLflow experiment with its cells as runs; a lone run goes to an MLflow experiment
named for its use case. Runs are matched on the ``labnb.run_id`` tag, so exporting twice creates nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labnb.experiments import leaderboard
from labnb.experiments.cells import CellState
from labnb.experiments.folder import ExperimentFolder
from labnb.experiments.scheduler import run_json
from labnb.experiments.usecases import use_case_of

RUN_TAG = "labnb.run_id"
MLFLOW_STATUS = {"completed": "FINISHED", "completed_with_errors": "FINISHED", "budget_exhausted": "FINISHED",
                 "interrupted": "KILLED", "running": "RUNNING"}


@dataclass(frozen=True)
class Exported:
    run_id: str
    experiment: str
    mlflow_run_id: str
    created: bool


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


def export(refs: list[Path], tracking_uri: str) -> list[Exported]:
    """Log every run of ``refs`` (run or experiment folders) to MLflow at ``tracking_uri``; skip those there."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    for logger in ("mlflow", "alembic"):  # the store's first migrations log at INFO
        logging.getLogger(logger).setLevel(logging.WARNING)

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
            cell, run_id = result.cell, str(result.cell.run_id)
            found = client.search_runs([experiment_id], filter_string=f"tags.`{RUN_TAG}` = '{run_id}'",
                                       max_results=1)
            if found:
                done.append(Exported(run_id, name, found[0].info.run_id, False))
                continue
            summary = run_json(str(cell.run_dir), "metadata/run_summary.json")
            tags = {RUN_TAG: run_id, "labnb.use_case": use.name, "labnb.status": str(summary.get("status")),
                    "mlflow.runName": run_id}
            if is_experiment(ref):
                tags.update({"labnb.experiment_id": name, "labnb.cell": cell.name})
            run = client.create_run(experiment_id, tags=tags)
            mlflow_id, stamp = run.info.run_id, int(time.time() * 1000)
            params = {**_params(str(cell.run_dir)), **{f"grid.{k}": str(v) for k, v in cell.values.items()}}
            client.log_batch(mlflow_id, metrics=[Metric(k, v, stamp, 0) for k, v in
                                                 sorted(_metrics(str(cell.run_dir), result.row).items())],
                             params=[Param(k, v) for k, v in sorted(params.items())], tags=[RunTag("labnb", "1")])
            client.log_artifacts(mlflow_id, str(cell.run_dir), artifact_path="run_folder")
            if not result.table.empty:
                client.log_table(mlflow_id, data=result.table, artifact_file="classifications.json")
            client.set_terminated(mlflow_id, status=MLFLOW_STATUS.get(str(summary.get("status")), "FAILED"))
            done.append(Exported(run_id, name, mlflow_id, True))
    return done



