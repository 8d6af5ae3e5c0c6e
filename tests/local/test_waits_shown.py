"""Progress wherever a person waits: the local model loading and a cold taxonomy embedding show a spinner on
stderr, and their seconds are part of the run's setup in timing.json and the summary line."""

from __future__ import annotations

import io
import re
import threading

import pytest

from labnb.local import embedder as embedder_module
from labnb.terminal.progress import waiting
from local.test_retrieval import SMALL


class Terminal(io.StringIO):
    """A stream that says it is a terminal and tells when something was written."""

    def __init__(self) -> None:
        super().__init__()
        self.written = threading.Event()

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.written.set()
        return super().write(text)


def test_waiting_off_a_terminal_writes_one_line():
    stream = io.StringIO()
    with waiting("loading the local model", stream):
        pass
    assert re.fullmatch(r"loading the local model… done \(\d+\.\ds\)\n", stream.getvalue())
    stream = io.StringIO()
    with pytest.raises(ValueError), waiting("embedding 3 labels", stream):
        raise ValueError("boom")
    assert re.fullmatch(r"embedding 3 labels… failed \(\d+\.\ds\)\n", stream.getvalue())


def test_waiting_on_a_terminal_spins_then_clears_the_line():
    stream = Terminal()
    with waiting("loading the local model", stream):
        assert stream.written.wait(30)  # the spinner drew at least once
    text = stream.getvalue()
    assert re.match(r"\r⠋ loading the local model… \d+\.\ds", text)
    assert re.search(r"\r\x1b\[Kloading the local model… done \(\d+\.\ds\)\n$", text)


def test_model_loading_and_cold_embedding_are_shown_and_counted(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("LABNB_CACHE_DIR", str(tmp_path / "cold-cache"))
    monkeypatch.setattr(embedder_module, "_CACHE", {})  # this process loads the model again
    taxonomy = tmp_path / "small.txt"
    taxonomy.write_text(SMALL)
    products = tmp_path / "p.csv"
    products.write_text("title\nWhey Protein Isolate Powder\nSPF 50 Sunscreen Lotion\n")
    result = cli("--input", str(products), "--taxonomy", str(taxonomy), "--leaves-only", "--model", "local",
                 "--candidates", "2")
    assert result.code == 0, result.err
    loading = re.search(r"^loading the local model… done \((\d+\.\d)s\)$", result.err, re.M)
    embedding = re.search(r"^embedding 10 labels \(once: later runs read them from the cache\)… done "
                          r"\((\d+\.\d)s\)$", result.err, re.M)
    assert loading and embedding, result.err
    timing = result.json("outputs/timing.json")
    waited = float(loading.group(1)) + float(embedding.group(1))
    assert timing["setup_seconds"] >= waited - 0.1  # both happened before the first item, inside the setup
    total = timing["total_duration_seconds"]
    assert abs(total - timing["setup_seconds"] - timing["processing_seconds"]) <= 0.002  # each rounded to 1 ms
    assert abs(float(result.out.strip().split(" | ")[-2].rstrip("s")) - total) <= 0.051  # the summary line's
    again = cli("--input", str(products), "--taxonomy", str(taxonomy), "--leaves-only", "--model", "local",
                "--candidates", "2")
    assert again.code == 0 and "embedding" not in again.err and "loading the local model" not in again.err


def test_ctrl_c_while_the_model_loads_stops_the_run_and_leaves_no_folder(tmp_path):
    import signal
    import subprocess
    import sys

    from conftest import ROOT

    runs = tmp_path / "runs"
    process = subprocess.Popen([sys.executable, str(ROOT / "src" / "run_assign_cat.py"), "--model", "local",
                                "--single-product", "Zinc 50 mg", "--runs-dir", str(runs)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    assert process.stderr is not None
    seen = b""
    while b"loading the local model" not in seen:  # the spinner says the model is loading: interrupt it now
        chunk = process.stderr.read1(256)
        assert chunk, f"exited before loading the model: {seen!r}"
        seen += chunk
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, (seen + err).decode()
    text = (seen + err).decode()
    assert re.search(r"loading the local model… interrupted \(\d+\.\ds\)\nerror: interrupted\n$", text), text
    assert out == b"" and not runs.exists()
