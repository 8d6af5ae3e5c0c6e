"""labnb.local.bert_encoder against sentence-transformers (installed with the model wheel, never imported by labnb),
and vectors that do not depend on what a text was batched with."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from labnb.local.embedder import length_batches, load_embedder

TEXTS = ["Echinacea Immune Support", "Ashwagandha KSM-66 600 mg, 90 Vegan Capsules", "", "日本語のテキスト",
         "Héllo Wörld – ümlauts and UPPER case", "whey " * 300, "Magnesium Glycinate"]
REFERENCE = (  # runs in its own process: importing sentence-transformers costs ~11 s and ~300 MB
    "import json, sys, torch\n"
    "from sentence_transformers import SentenceTransformer\n"
    "from labnb.local.embedder import load_embedder\n"
    "torch.set_num_threads(1)\n"
    "st = SentenceTransformer(str(load_embedder().model_dir), device='cpu', local_files_only=True)\n"
    "texts = json.loads(sys.stdin.read())\n"
    "print(json.dumps({'vectors': st.encode(texts, batch_size=4).tolist(),\n"
    "                  'ids': st.tokenizer(texts, truncation=True, max_length=256)['input_ids']}))\n"
)


@pytest.fixture(scope="module")
def embedder():
    return load_embedder()


def test_the_same_vectors_and_token_ids_as_sentence_transformers(embedder):
    import json

    done = subprocess.run([sys.executable, "-c", REFERENCE], input=json.dumps(TEXTS), capture_output=True,
                          text=True, check=True, env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin",
                                                      "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    reference = json.loads(done.stdout.splitlines()[-1])
    assert embedder.model.tokenizer(TEXTS)["input_ids"] == reference["ids"]
    assert len(reference["ids"][5]) == 256  # cut at the model's max_seq_length
    ours = embedder.encode(TEXTS)
    assert np.abs(ours - np.array(reference["vectors"], dtype=np.float32)).max() < 1e-6


def test_a_vector_does_not_depend_on_the_lengths_of_the_texts_batched_with_it(embedder):
    alone = np.stack([embedder.encode([t])[0] for t in TEXTS])
    together = embedder.encode(TEXTS)  # seven lengths: nothing padded, so exactly the same
    assert np.array_equal(alone, together)
    # Forty texts of one length share one matrix multiplication, whose rounding depends on its size.
    assert np.abs(embedder.encode(TEXTS[:3] * 40)[:3] - together[:3]).max() < 1e-6


def test_batches_hold_one_length_each_longest_first_within_the_token_budget():
    assert length_batches([3, 5, 3, 5, 4, 3], tokens=6) == [[1], [3], [4], [0, 2], [5]]
    assert length_batches([10] * 5, tokens=25) == [[0, 1], [2, 3], [4]]
    assert length_batches([]) == []
