"""The install of the README's first command (requirements.txt) has no scikit-learn, SciPy, torch or matplotlib:
every run that does not learn from examples works without them, in a real process whose imports of them fail
as they would in that venv; learning from examples says in one line what to install."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from analysis.test_analyze import PAIR_X, PAIR_Y, make_run
from conftest import ROOT, write_models_yaml
from local.test_retrieval import SMALL

OPTIONAL = ("sklearn", "scipy", "threadpoolctl", "torch", "matplotlib")
# Runs a script as __main__ with every import of OPTIONAL failing (even one already cached by another module).
BLOCKER = f"""
import importlib.abc, runpy, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {OPTIONAL!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Absent())
script, sys.argv = sys.argv[1], sys.argv[1:]
runpy.run_path(script, run_name="__main__")
"""


@pytest.fixture
def without_optional(tmp_path):
    """Run one of src/'s scripts as the light install would: a subprocess with OPTIONAL unimportable."""
    blocker = tmp_path / "blocker.py"
    blocker.write_text(BLOCKER)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(PYTHONPATH=str(ROOT / "src"), LABNB_CACHE_DIR=str(tmp_path / "cache"))

    def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(blocker), str(ROOT / "src" / script), *args], env=env,
                              capture_output=True, text=True, cwd=tmp_path, timeout=600)

    return run


def test_requirements_leave_the_optional_packages_out():
    names = {re.split(r"[<>=\[ ;#]", line.strip())[0].lower()
             for line in (ROOT / "requirements.txt").read_text().splitlines() if line.strip() and line[0] != "#"}
    assert {"scikit-learn", "scipy", "torch", "matplotlib"} & names == set()
    assert "scikit-learn>=1.5" in (ROOT / "requirements-learn.txt").read_text().splitlines()
    assert (ROOT / "requirements-dev.txt").read_text().startswith("-r requirements-learn.txt")


def test_a_scored_local_run_and_a_deep_taxonomy_run_need_none_of_them(without_optional, tmp_path):
    models, runs = write_models_yaml(tmp_path / "models.yaml"), tmp_path / "runs"
    common = ("--model", "local", "--models-config", str(models), "--runs-dir", str(runs))
    flat = without_optional("run_assign_cat.py", "--input", str(ROOT / "data" / "sample_products.csv"), *common)
    assert flat.returncode == 0, flat.stderr
    run_dir = next(runs.iterdir())
    rows = pd.read_csv(run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    metrics = json.loads((run_dir / "outputs" / "metrics.json").read_text())
    right = (rows.category == rows.expected_category) & (rows.subcategory == rows.expected_subcategory)
    assert len(rows) == 86 and (rows.status == "ok").all()
    assert metrics["accuracy"] == round(right.mean(), 6) and metrics["n_ok"] == 86
    matrix = pd.read_csv(run_dir / "outputs" / "confusion_matrix.csv", index_col=0)
    assert int(matrix.to_numpy().sum()) == 86
    assert sum(int(matrix.loc[c, c]) for c in matrix.index) == int((rows.category == rows.expected_category).sum())

    taxonomy, products = tmp_path / "small.txt", tmp_path / "deep.csv"
    taxonomy.write_text(SMALL)
    products.write_text("product_id,title\nw,\"Whey Protein Isolate Powder, Chocolate\"\nd,Adjustable Dumbbell Set\n")
    deep = without_optional("run_assign_cat.py", "--input", str(products), "--taxonomy", str(taxonomy),
                            "--leaves-only", *common)
    assert deep.returncode == 0, deep.stderr
    deep_dir = max(runs.iterdir())
    deep_rows = pd.read_csv(deep_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert deep_rows.subcategory.tolist() == ["3", "9"]  # protein powders; dumbbells (tests/tasks/test_deep_run.py)


def test_comparing_runs_needs_none_of_them(without_optional, tmp_path):
    x = make_run(tmp_path / "runs", "assign-cat-2025-09-19-140000", PAIR_X)
    y = make_run(tmp_path / "runs", "assign-cat-2025-09-19-150000", PAIR_Y)
    out = without_optional("analyze_runs.py", "compare", str(x), str(y), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["pairs"][0]["kappa"] == 0.52  # hand-computed in tests/analysis/test_analyze.py


def test_learning_from_examples_without_scikit_learn_is_one_line_and_no_run_folder(without_optional, tmp_path):
    examples = tmp_path / "examples.csv"
    examples.write_text("product_id,title,expected_category,expected_subcategory\n"
                        "e1,Daily Multivitamin Tablets,vitamins,multivitamins\n")
    runs = tmp_path / "runs"
    out = without_optional("run_assign_cat.py", "--model", "local", "--single-product", "Creatine Monohydrate",
                           "--examples", str(examples), "--models-config", str(write_models_yaml(
                               tmp_path / "models.yaml")), "--runs-dir", str(runs))
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        "error: the local model learns from --examples with scikit-learn, which is not installed (zero-shot runs do "
        "not need it): pip install -r requirements-learn.txt, or pip install 'llm-lab-notebook[learn]'"]
    assert not runs.exists() or not any(runs.iterdir())
    assert "Traceback" not in out.stderr


def test_the_blocker_blocks(without_optional, tmp_path):
    """The other tests mean something only if importing scikit-learn really fails in those processes."""
    script = tmp_path / "probe.py"
    script.write_text("import sklearn\n")
    out = without_optional(str(script))
    assert out.returncode == 1 and "ModuleNotFoundError: No module named 'sklearn'" in out.stderr
