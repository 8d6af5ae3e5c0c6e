"""`pip install .` gives the console commands and an importable package (no sys.path edits)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from analysis.test_analyze import PAIR_X, make_run
from conftest import ROOT, venv_over_this_one


def test_pip_install_puts_the_commands_on_the_path_and_the_snippet_imports(tmp_path):
    source = tmp_path / "src-copy"  # a copy: building writes build/ and *.egg-info next to the sources
    source.mkdir()
    for name in ("pyproject.toml", "requirements.txt", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    venv_over_this_one(venv)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # offline: the dependencies are already installed, and setuptools (>= 70.1, requirements-dev.txt) builds in place
    built = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                            "--no-deps", "--no-build-isolation", str(source)], env=env, capture_output=True, text=True)
    assert built.returncode == 0, f"pip install failed:\n{built.stdout}\n{built.stderr}"
    bin_ = venv / "bin"
    assert {"labnb", "assign-cat", "analyze-runs", "classify-text"} <= {p.name for p in bin_.iterdir()}
    make_run(tmp_path / "runs", "assign-cat-2025-09-19-140000", PAIR_X)
    listed = subprocess.run([str(bin_ / "analyze-runs"), "list", "--runs-dir", str(tmp_path / "runs")],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert listed.returncode == 0 and "assign-cat-2025-09-19-140000" in listed.stdout, listed.stderr
    usage = subprocess.run([str(bin_ / "assign-cat"), "--help"], capture_output=True, text=True, env=env)
    assert usage.returncode == 0 and "--single-product TITLE" in usage.stdout
    assert usage.stdout.startswith("usage: assign-cat ") and ".csv, .tsv, .json, .jsonl or .xlsx" in usage.stdout
    usage = subprocess.run([str(bin_ / "run-experiment"), "--help"], capture_output=True, text=True, env=env)
    assert usage.returncode == 0 and usage.stdout.startswith("usage: run-experiment "), usage.stdout[:200]
    snippet = ("from labnb.analysis import load_run, load_runs\n"
               f"runs = load_runs({str(tmp_path / 'runs')!r})\n"
               f"df = load_run({str(tmp_path / 'runs' / 'assign-cat-2025-09-19-140000')!r})\n"
               "print(len(runs), len(df), __import__('assign_cat').__file__)")
    done = subprocess.run([str(bin_ / "python"), "-c", snippet], capture_output=True, text=True, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    count, rows, where = done.stdout.split()
    assert (count, rows) == ("1", "8") and where.startswith(str(venv))
    # the built-in prompts are files shipped with the code (their only copy), not config/ beside a checkout
    prompts = ("from assign_cat.deep_task import DeepAssignCat\nfrom assign_cat.task import AssignCat\n"
               "from labnb.flat.task import Classify\n"
               "for task in (AssignCat, DeepAssignCat, Classify): print(task.prompt_file, task.prompt_file.is_file())")
    shipped = subprocess.run([str(bin_ / "python"), "-c", prompts], capture_output=True, text=True, env=env,
                             cwd=tmp_path)
    assert shipped.returncode == 0, shipped.stderr
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    files = ("assign_cat/prompts/assign-cat.yaml", "assign_cat/prompts/assign-cat-deep.yaml",
             "labnb/flat/classify.yaml")
    assert [line.split() for line in shipped.stdout.splitlines()] == [[str(site / name), "True"] for name in files]
