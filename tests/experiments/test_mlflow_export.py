"""analyze_runs.py export-mlflow: an experiment's cells as MLflow runs in an embedded SQLite store, once."""

from __future__ import annotations

import json

from analysis.test_analyze import PAIR_X, PAIR_Y, make_run
from analyze_runs import main
from labnb.experiments.cells import CellState
from labnb.experiments.folder import ExperimentFolder


def test_export_an_experiment_twice_creates_its_runs_once_and_reads_back(tmp_path, capsys):
    import mlflow

    runs = tmp_path / "runs"
    folder = ExperimentFolder.create(runs / "experiments", "pair", b"name: pair\n")
    cells = []
    for index, (model, answers) in enumerate((("mini", PAIR_X), ("big", PAIR_Y)), start=1):
        run = make_run(folder.runs_dir(CellState(index, "", {}, {})), f"assign-cat-2025-09-19-14000{index}", answers,
                       model=model, cost=0.01 * index)
        summary = json.loads((run / "metadata/run_summary.json").read_text())
        summary["file_sha256"] = {"inputs/prompt_templates.json": f"{index}" * 64, "config/models.yaml": "0" * 64}
        (run / "metadata/run_summary.json").write_text(json.dumps(summary))
        (run / "config/run_config.json").write_text(json.dumps({"options": {"model": model, "batch_size": 2}}))
        cells.append(CellState(index, f"model={model}", {"model": model}, {"model": model}, state="done",
                               run_id=run.name, run_dir=str(run)))
    folder.save({"experiment_id": folder.id, "grid_keys": ["model"]}, cells)
    argv, uri = ["export-mlflow", str(folder.path), "--runs-dir", str(runs)], f"sqlite:///{runs / 'mlflow.db'}"
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"2 exported, 0 updated, 0 already there | {uri}"
    assert main(argv) == 0  # matched on the run-id tag: nothing new
    assert capsys.readouterr().out.splitlines()[-1] == f"0 exported, 0 updated, 2 already there | {uri}"
    mlflow.set_tracking_uri(f"sqlite:///{runs / 'mlflow.db'}")
    try:
        found = mlflow.search_runs(experiment_names=[folder.id], order_by=["tags.`labnb.run_id` ASC"])
    finally:
        mlflow.set_tracking_uri(None)
    assert len(found) == 2
    first, second = found.iloc[0], found.iloc[1]
    assert found["tags.labnb.run_id"].tolist() == ["assign-cat-2025-09-19-140001", "assign-cat-2025-09-19-140002"]
    assert found["tags.labnb.cell"].tolist() == ["model=mini", "model=big"]
    assert set(found["tags.labnb.use_case"]) == {"assign-cat"} and set(found["tags.labnb.status"]) == {"completed"}
    assert (first["params.model"], first["params.option.batch_size"], first["params.grid.model"]) == ("mini", "2",
                                                                                                       "mini")
    assert first["params.sha256.inputs/prompt_templates.json"] == "1" * 64
    assert "params.sha256.config/models.yaml" not in found.columns  # inputs only
    # X: 6 of 8 right; Y: 6 of 7 (p7 failed, counted wrong)
    assert (first["metrics.accuracy"], first["metrics.n"], first["metrics.cost_usd"]) == (0.75, 8.0, 0.01)
    assert (second["metrics.accuracy"], second["metrics.n"], second["metrics.failed"]) == (0.857143, 7.0, 1.0)
    assert set(found["status"]) == {"FINISHED"}
    artifacts = {a.path for a in mlflow.MlflowClient(f"sqlite:///{runs / 'mlflow.db'}").list_artifacts(first["run_id"])}
    assert artifacts == {"run_folder", "classifications.json"}


def test_without_mlflow_installed_it_says_what_to_install_in_one_line(tmp_path, capsys, monkeypatch):
    import sys

    runs = tmp_path / "runs"
    run = make_run(runs, "assign-cat-2026-01-02-030405", PAIR_X)
    for name in ["mlflow", *(m for m in sys.modules if m.startswith("mlflow."))]:
        monkeypatch.setitem(sys.modules, name, None)  # as if mlflow-skinny were not installed
    code = main(["export-mlflow", str(run), "--runs-dir", str(runs)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == ["error: export-mlflow needs mlflow-skinny, sqlalchemy and alembic (mlflow is "
                                 "missing): pip install mlflow-skinny sqlalchemy alembic"]
    assert not (runs / "mlflow.db").exists()
