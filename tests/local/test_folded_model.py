"""The int8 model's optimized graph kept in labnb's cache: same vectors bit for bit, checked, rebuilt, optional."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from labnb.local.folded_model import folded_model
from labnb.local.model_files import MINILM_INT8 as FILES
from labnb.local.onnx_encoder import OnnxEncoder

TEXTS = ["Whey Protein Isolate 2 lb Chocolate", "Zinc 50 mg", "The box was dented but the contents were fine."]


@pytest.fixture(scope="module")
def files():
    return FILES.model.verified(), FILES.tokenizer.verified()


def vectors(files, sha256: str | None):
    encoder = OnnxEncoder(*files, FILES.max_seq_length, FILES.dimension, sha256)
    ids = encoder.tokenizer(TEXTS[:1])["input_ids"]  # one text: one length, one batch
    return encoder, encoder(encoder.features(ids))["sentence_embedding"]


@pytest.fixture(scope="module")
def int8_vectors(files):
    return vectors(files, None)[1]  # no sha256: the int8 file itself, folded at load as before


def test_the_saved_graph_gives_the_int8_files_vectors_bit_for_bit(files, int8_vectors, tmp_path, monkeypatch):
    monkeypatch.setenv("LABNB_CACHE_DIR", str(tmp_path))
    encoder, got = vectors(files, FILES.model.sha256)
    (folder,) = (tmp_path / "onnx").iterdir()
    assert folder.name.startswith(FILES.model.sha256[:32] + "-ort")
    assert sorted(p.name for p in folder.iterdir()) == ["model.onnx", "weights.bin", "weights.sha256"]
    weights = (folder / "weights.bin").read_bytes()
    assert (folder / "weights.sha256").read_text() == hashlib.sha256(weights).hexdigest() + "\n"
    assert len(weights) > 80_000_000  # the weights in fp32: four times the int8 file's
    assert encoder.session._model_path == str(folder / "model.onnx")
    assert np.array_equal(got, int8_vectors)


def test_a_damaged_copy_is_rebuilt_and_an_unwritable_cache_opens_the_int8_file(files, int8_vectors, tmp_path,
                                                                                 monkeypatch):
    monkeypatch.setenv("LABNB_CACHE_DIR", str(tmp_path))
    model_file = files[0]
    graph = folded_model(model_file, FILES.model.sha256)
    good = (graph.parent / "weights.bin").read_bytes()
    (graph.parent / "weights.bin").write_bytes(good[:-4] + b"\0\0\0\0")  # one weight changed
    assert folded_model(model_file, FILES.model.sha256) == graph
    assert (graph.parent / "weights.bin").read_bytes() == good
    (tmp_path / "blocked").write_text("a file where the cache folder would be")
    monkeypatch.setenv("LABNB_CACHE_DIR", str(tmp_path / "blocked"))
    assert folded_model(model_file, FILES.model.sha256) == model_file
    encoder, got = vectors(files, FILES.model.sha256)
    assert encoder.session._model_path == str(model_file) and np.array_equal(got, int8_vectors)
