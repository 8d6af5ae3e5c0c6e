"""Run folders: bad runs dirs and corrupt summaries are one line, outputs honour the umask, one writer at a time."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from conftest import ROOT
from labnb.errors import InputError
from labnb.store.runfolder import RunFolder
from labnb.store.runlock import RunInUse

HOLD = """
import sys
from labnb.store.runfolder import RunFolder
folder = RunFolder.create(sys.argv[1], "t") if sys.argv[2] == "create" else RunFolder.open(sys.argv[1]).lock()
print(folder.path, flush=True)
sys.stdin.readline()
"""


def one_line_exit_2_no_folder(result, message):
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1 and result.err.startswith("error: ") and message in result.err, result.err


def test_dangling_symlink_runs_dir(cli, tmp_path):
    link = tmp_path / "runs-link"
    link.symlink_to(tmp_path / "gone")
    result = cli("--single-product", "Whey", "--runs-dir", str(link))
    one_line_exit_2_no_folder(result, f"{link}: runs directory is a dangling symlink")
    assert not (tmp_path / "gone").exists()


def test_immutable_runs_dir(cli, tmp_path):
    runs = tmp_path / "ro"
    runs.mkdir()
    runs.chmod(0o555)
    immutable = os.geteuid() == 0  # root ignores the mode: make it immutable as well
    if immutable:
        subprocess.run(["chattr", "+i", str(runs)], check=True)
    try:
        result = cli("--single-product", "Whey", "--runs-dir", str(runs))
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(runs)], check=True)
        runs.chmod(0o755)
    one_line_exit_2_no_folder(result, f"{runs}: cannot create a run folder: ")
    assert list(runs.iterdir()) == []


def test_corrupt_run_summary_names_the_file(cli, tmp_path):
    run = tmp_path / "runs" / "assign-cat-2026-01-01-000000"
    (run / "metadata").mkdir(parents=True)
    summary = run / "metadata" / "run_summary.json"
    for text, message in (('{"status": "runn', "line 1: unreadable JSON"), ("[1, 2]", "not a run summary"),
                          ("[" * 100_000, "unreadable JSON")):
        summary.write_text(text)
        result = cli("--resume", str(run))
        one_line_exit_2_no_folder(result, f"{summary}: {message}")


def test_output_files_honour_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        folder = RunFolder.create(tmp_path / "runs", "t")
        folder.write_json("metadata/run_summary.json", {"status": "running"})
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.file("metadata/run_summary.json").stat().st_mode) == 0o640


def test_a_second_process_refuses_a_locked_run_until_the_first_dies(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}

    def hold(target, how):
        return subprocess.Popen([sys.executable, "-c", HOLD, str(target), how], env=env, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    first = hold(tmp_path / "runs", "create")
    run = first.stdout.readline().strip()  # printed once the lock is held
    (tmp_path / "runs" / run / "metadata" / "run_summary.json").write_text(json.dumps({"status": "running"}))
    second = subprocess.run([sys.executable, "-c", HOLD, run, "open"], env=env, input="", capture_output=True,
                            text=True, timeout=60)
    assert second.returncode == 1 and f"RunInUse: {run}: in use by another process (pid {first.pid})" in second.stderr
    first.kill()  # SIGKILL: only the OS can release the lock now
    first.wait()
    third = hold(run, "open")
    assert third.stdout.readline().strip() == run
    third.communicate("\n", timeout=60)
    assert third.returncode == 0


def test_the_lock_is_reentrant_within_a_process_and_released_explicitly(tmp_path):
    folder = RunFolder.create(tmp_path / "runs", "t")
    folder.write_json("metadata/run_summary.json", {"status": "running"})
    again = RunFolder.open(folder.path).lock()  # the same process: a resume after a run goes ahead
    assert (folder.path / "metadata" / ".lock").read_text() == f"{os.getpid()}\n"
    again.unlock()
    folder.lock()
    from labnb.store.runlock import locked, release_all

    release_all()
    with locked(folder.path) as lock:
        assert lock.held
    assert not lock.held
    probe = subprocess.run([sys.executable, "-c", HOLD, str(folder.path), "open"], input="\n", capture_output=True,
                           text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert probe.returncode == 0, probe.stderr
    with pytest.raises(InputError, match="not a run folder"):
        RunFolder.open(tmp_path)
    assert RunInUse.exit_code == 2


def test_non_utf8_argv_byte_is_one_line_and_no_folder(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "src" / "run_assign_cat.py"), "--single-product",
                           b"Whey \xff Protein", "--runs-dir", str(tmp_path / "runs")], capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": "k", "LANG": "C.UTF-8"})
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "error: --single-product: the title is not UTF-8 (byte 0xff)\n"
    assert not (tmp_path / "runs").exists()
