"""The secret scrubber removes keys, never a path the user typed (``/tmp/task-results-2026`` is no key)."""

from __future__ import annotations

import pytest

from conftest import ROOT

SAMPLE = ROOT / "data" / "sample_products.csv"
KEY_LIKE_DIR = "sk-proj-archive-2026-12-06-runs"  # shaped like a key, but typed by the user as a folder


@pytest.fixture
def runs_dir(tmp_path):
    return tmp_path / "task-results-2026" / KEY_LIKE_DIR


def test_key_shapes_need_a_word_boundary_and_a_key_s_length():
    from labnb.store.scrub import scrub

    assert scrub("/tmp/task-results-2026/x") == "/tmp/task-results-2026/x"
    assert scrub("mask-layer-1111aaaa2222bbbb3333") == "mask-layer-1111aaaa2222bbbb3333"
    assert scrub("desk-lamp-2026") == "desk-lamp-2026"
    assert scrub("key sk-abcDEF0123456789ghijKL rejected") == "key [REDACTED] rejected"
    assert scrub("(sk-ant-api03-AbCdEf0123456789xyzXYZ)") == "([REDACTED])"
    assert scrub("Authorization: Bearer abcdef0123456789ZZ") == "Authorization: [REDACTED]"
    assert scrub("api_key=abcdef0123456789") == "[REDACTED]"


def test_summary_line_keeps_the_typed_runs_dir(cli, fake_api, runs_dir):
    result = cli("--single-product", "Whey Protein", "--runs-dir", str(runs_dir))
    assert result.code == 0, result.err
    (run,) = runs_dir.iterdir()
    assert result.out.splitlines()[-1].endswith(f" | {run}")
    assert "[REDACTED]" not in result.out + result.err


def test_batch_collect_hint_keeps_the_typed_runs_dir(cli, fake_api, runs_dir):
    result = cli("--input", str(SAMPLE), "--limit", "2", "--batch-api", "--runs-dir", str(runs_dir))
    assert result.code == 0, result.err
    (run,) = runs_dir.iterdir()
    assert result.out == (f"submitted: 1 batch (2 requests) to openai | collect with: "
                          f"python src/run_assign_cat.py --resume {run}\n")


def test_experiment_cell_lines_keep_the_typed_runs_dir(api_env, tmp_path, capsys):
    from experiments.test_experiments import run, write_spec

    spec = write_spec(tmp_path, "  batch_size: [2]\n", n=2)
    runs = tmp_path / "task-results-2026" / KEY_LIKE_DIR
    code, out, err = run(capsys, str(spec), "--runs-dir", str(runs))
    assert code == 0, out + err
    (exp,) = (runs / "experiments").iterdir()
    (run_dir,) = (exp / "runs" / "001").iterdir()
    lines = out.splitlines()
    assert lines[0] == f"experiment {exp.name}: 1 cells, 1 to start | {exp}"
    assert lines[1].startswith("[1/1] batch_size=2: completed: 2 classified, 0 failed") and \
        lines[1].endswith(f" | {run_dir}")
    assert lines[-1].endswith(f" | {exp}") and "[REDACTED]" not in out + err
