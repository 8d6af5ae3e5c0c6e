"""The classify task streamed (--engine process|ray, the local model): the same rows and metrics in this
process and on a local Ray (2 CPUs), zero-shot and learned from --examples; kill -9 of a Ray actor mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from scale.engines import assert_engines_agree, table
from scale.raycluster import ray_address  # noqa: F401  (the session's Ray, a fixture)
from scale.texts import BAD_TEXTS, INTENT, REVIEWS, ROOT, TICKETS, write_examples, write_texts

PART_ROWS = 100
CLASSIFY_TEXT = [str(ROOT / "src" / "run_classify_text.py")]
LABNB_CLASSIFY = ["-m", "labnb", "run", "classify"]


def _start(command: list[str], *args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen([sys.executable, *command, "--model", "local", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def _run(command: list[str], *args: str) -> tuple[int, str, str]:
    proc = _start(command, *args)
    out, err = proc.communicate(timeout=900)
    return proc.returncode, out, err


def _records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "outputs" / "parts.jsonl").read_text().splitlines()]


def _both_engines(tmp_path: Path, command: list[str], args: list[str], n: int, bad: int,
                  address: str) -> dict[str, Path]:
    """One run per engine of the same input; both end as expected. Their folders by engine."""
    folders = {}
    for engine in ("process", "ray"):
        extra = ["--ray-address", address, "--concurrency", "2"] if engine == "ray" else []
        code, out, err = _run(command, *args, "--engine", engine, "--part-rows", str(PART_ROWS),
                              "--runs-dir", str(tmp_path / engine), *extra)
        status = "completed_with_errors" if bad else "completed"
        assert code == (1 if bad else 0), err[-2000:]
        assert out.startswith(f"{status}: {n - bad} classified, {bad} failed | accuracy "), out
        (folders[engine],) = list((tmp_path / engine).iterdir())
    return folders


def _assert_same(folders: dict[str, Path], ids: list[str], n: int, bad: int) -> pd.DataFrame:
    local, ray = assert_engines_agree(folders, "item_id", ids, ("text", "label", "expected_label", "status",
                                                                 "error_type", "error", "correct", "call_id"), n, bad)
    metrics = json.loads((folders["ray"] / "outputs" / "metrics.json").read_text())
    correct = int((local["correct"] == "True").sum())
    assert (metrics["n_correct"], metrics["accuracy"]) == (correct, round(correct / (n - bad), 6))
    for engine, folder in folders.items():
        records = _records(folder)
        assert sorted(r["part"] for r in records) == list(range(n // PART_ROWS))
        summary = json.loads((folder / "metadata" / "run_summary.json").read_text())
        assert (summary["engine"], summary["counts"]) == (
            engine, {"ok": n - bad, "invalid": bad, "error": 0, "not_run": 0, "total": n})
    workers = {r["worker"].split(":")[1] for r in _records(folders["ray"])}
    assert str(os.getpid()) not in workers and 1 <= len(workers) <= 2  # the actors classified, once loaded
    return ray


def test_classify_text_zero_shot_on_ray_gives_the_rows_of_in_process(tmp_path, ray_address):  # noqa: F811
    n = 800
    reviews = tmp_path / "reviews.csv"
    ids = write_texts(reviews, n)
    folders = _both_engines(tmp_path, CLASSIFY_TEXT, ["--input", str(reviews)], n, len(BAD_TEXTS), ray_address)
    ray = _assert_same(folders, ids, n, len(BAD_TEXTS))
    assert folders["ray"].name.startswith("sentiment-")
    assert set(ray.loc[ray["status"] == "ok", "label"]) <= {"positive", "negative", "neutral", "mixed"}
    bad = ray.set_index("item_id").loc[[ids[i - 1] for i in BAD_TEXTS]]
    assert list(bad["status"]) == ["invalid", "invalid"]
    assert bad["error"].iloc[0].endswith(f"reviews.csv: line {5 + 1}: 4 fields but the header has 3")
    assert bad["error"].iloc[1].endswith(f"reviews.csv: line {9 + 1}: empty text")
    source = pd.read_csv(REVIEWS, dtype=str, keep_default_na=False)
    assert list(bad["text"]) == [source["text"][4], ""]  # the malformed rows' texts as read


def test_classify_learned_from_examples_on_ray_gives_the_rows_of_in_process(tmp_path, ray_address):  # noqa: F811
    n = 600
    examples, tickets = tmp_path / "examples.csv", tmp_path / "tickets.csv"
    write_examples(examples, TICKETS, 30)
    ids = write_texts(tickets, n, source=TICKETS, skip=30, malformed=False)
    args = ["--labels", str(INTENT), "--input", str(tickets), "--text-column", "subject", "--text-column", "body",
            "--examples", str(examples)]
    folders = _both_engines(tmp_path, LABNB_CLASSIFY, args, n, 0, ray_address)
    ray = _assert_same(folders, ids, n, 0)
    assert folders["ray"].name.startswith("intent-")
    assert ray["channel"].tolist() == (pd.read_csv(tickets, dtype=str)["channel"]).tolist()  # carried along
    for folder in folders.values():  # the model learned from the 30 examples, and the run says so
        model = json.loads((folder / "config" / "system_info.json").read_text())["model"]
        assert (model["learning"]["examples"], model["learning"]["source"]) == (30, str(examples))


def test_labels_from_a_column_on_ray_give_the_rows_of_in_process(tmp_path, ray_address):  # noqa: F811
    n = 300
    tickets = tmp_path / "tickets.csv"
    ids = write_texts(tickets, n, source=TICKETS)  # a stray cell (invalid) and a blank body (the subject is text)
    args = ["--labels-from-column", "expected_label", "--input", str(tickets), "--text-column", "subject",
            "--text-column", "body"]
    folders = _both_engines(tmp_path, LABNB_CLASSIFY, args, n, 1, ray_address)
    ray = _assert_same(folders, ids, n, 1)
    assert folders["ray"].name.startswith("tickets-")  # the label set is named for the input it was built from
    labels = [(f / "inputs" / "labels.yaml").read_text() for f in folders.values()]
    assert labels[0] == labels[1] and labels[0].count("- id: ") == 8
    assert set(ray.loc[ray["status"] == "ok", "expected_label"]) <= set(pd.read_csv(TICKETS)["expected_label"].map(
        lambda name: name.replace("_", "-")))


def test_kill_9_of_a_ray_actor_mid_run_still_gives_every_item_once(tmp_path, ray_address):  # noqa: F811
    n = 1500
    reviews = tmp_path / "reviews.csv"
    ids = write_texts(reviews, n, malformed=False)
    runs = tmp_path / "runs"
    driver = _start(CLASSIFY_TEXT, "--input", str(reviews), "--engine", "ray", "--ray-address", ray_address,
                    "--concurrency", "1", "--part-rows", str(PART_ROWS), "--runs-dir", str(runs))
    try:
        deadline = time.monotonic() + 600
        while True:  # the first part recorded: its actor is alive and busy with the next part
            journal = list(runs.glob("*/outputs/parts.jsonl"))
            if journal and journal[0].read_text().count("\n") >= 1:
                break
            assert driver.poll() is None, driver.communicate()[1][-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        first = json.loads(journal[0].read_text().splitlines()[0])
        actor = int(first["worker"].split(":")[1])
        os.kill(actor, signal.SIGKILL)
        out, err = driver.communicate(timeout=900)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, err[-2000:]
    (line,) = out.splitlines()  # stdout is the summary line alone (Ray's notice of the dead actor: stderr)
    assert line.startswith(f"completed: {n} classified, 0 failed | accuracy "), out
    folder = journal[0].parents[1]
    records = _records(folder)
    assert sorted(r["part"] for r in records) == list(range(n // PART_ROWS))  # each part recorded once
    workers = [int(r["worker"].split(":")[1]) for r in records]
    assert workers[0] == actor and set(workers[1:]) - {actor}  # Ray restarted the actor; it did the rest
    rows = table(folder)
    assert list(rows["item_id"]) == ids  # every item exactly once, in input order
    assert set(rows["status"]) == {"ok"}
    summary = json.loads((folder / "metadata" / "run_summary.json").read_text())
    assert [s["mode"] for s in summary["sessions"]] == ["new"]  # one session: no --resume was needed
