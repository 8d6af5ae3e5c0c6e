"""--replay runs again from the run folder alone; today's config files do not matter."""

from __future__ import annotations

import json
import shutil

import pandas as pd

from conftest import ROOT


def test_replay_ignores_todays_config_and_reproduces_the_classifications(cli, fake_api, tmp_path):
    project = tmp_path / "project"  # a copy of the inputs we can break after the first run
    shutil.copytree(ROOT / "config", project / "config")
    shutil.copy(ROOT / "data" / "sample_products.csv", project / "products.csv")
    first = cli("--input", str(project / "products.csv"), "--limit", "12", "--batch-size", "4",
                "--taxonomy", str(project / "config" / "taxonomy.xml"))
    assert first.code == 0, first.err
    original = first.run_dir
    # Break everything the first run read: taxonomy, products, models.yaml.
    (project / "config" / "taxonomy.xml").write_text("<broken")
    (project / "products.csv").unlink()
    cli.models.write_text("default: nope\n")
    again = cli("--replay", str(original))
    assert again.code == 0, again.err
    replayed = again.run_dirs[-1]
    assert replayed != original
    columns = ["product_id", "title", "category", "subcategory", "status"]
    tables = [pd.read_csv(run / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)[columns]
              for run in (original, replayed)]
    assert tables[0].equals(tables[1]) and len(tables[0]) == 12
    summary = json.loads((replayed / "metadata" / "run_summary.json").read_text())
    assert summary["replay_of"] == original.name
    for name in ("inputs/products.json", "inputs/taxonomy.xml", "inputs/prompt_templates.json", "config/models.yaml"):
        assert (replayed / name).read_bytes() == (original / name).read_bytes(), name
    # The two runs sent byte-identical requests.
    bodies = [json.dumps(r["json"], sort_keys=True) for r in fake_api.requests_to("/v1/chat/completions")]
    assert len(bodies) == 6 and sorted(bodies[:3]) == sorted(bodies[3:])
    from labnb.analysis.compare import agreement
    from labnb.analysis.runs import load_run

    assert agreement(load_run(original), load_run(replayed))["agreement"] == 1.0


def test_replay_with_another_model_is_recorded(cli, fake_api):
    original = cli("--single-product", "Krill Oil 500 mg").run_dir
    again = cli("--replay", str(original), "--model", "haiku")
    assert again.code == 0, again.err
    replayed = again.run_dirs[-1]
    config = json.loads((replayed / "config" / "run_config.json").read_text())
    assert config["options"]["model"] == "haiku" and config["replay_of"] == original.name
    table = pd.read_csv(replayed / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert table.loc[0, "model_used"] == "anthropic/claude-haiku-4-5"


def test_replay_of_a_folder_that_is_not_a_run(cli, tmp_path):
    result = cli("--replay", str(tmp_path))
    assert result.code == 2 and result.err == f"error: {tmp_path}: not a run folder (no metadata/run_summary.json)\n"


def test_a_run_folder_replays_with_nothing_but_the_code(cli, fake_api, tmp_path):
    """A copy of the code without config/ (the XSD ships with the package) replays a copied run folder."""
    import shutil
    import subprocess
    import sys

    from conftest import ROOT, subprocess_env

    first = cli("--single-product", "Whey Protein Isolate")
    assert first.code == 0, first.err
    code = tmp_path / "code"
    shutil.copytree(ROOT / "src", code / "src", ignore=shutil.ignore_patterns("__pycache__"))
    run = shutil.copytree(first.run_dir, tmp_path / "elsewhere" / first.run_dir.name)
    env = {**subprocess_env(fake_api), "PYTHONPATH": str(code / "src")}
    again = subprocess.run([sys.executable, str(code / "src" / "run_assign_cat.py"), "--replay", str(run),
                            "--runs-dir", str(tmp_path / "replays")], env=env, capture_output=True, text=True,
                           timeout=120, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert not (code / "config").exists() and again.stdout.splitlines()[-1].startswith("completed: 1 classified")
