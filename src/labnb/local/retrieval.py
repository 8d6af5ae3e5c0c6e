"""Candidate retrieval: the K choices nearest to each item in embedding space, for any task.

Scoring: every vector is centred on the mean choice vector (the direction all choices share says nothing
about which one fits) and re-normalized; a choice may also be matched with its context (in a label tree:
its ancestors), score = cos(item, choice) + ``context_weight`` * mean cos(item, context choice). That is
linear, so each choice is one precomputed vector and a search is one matrix multiplication.

The choice embeddings are cached on disk (``.npy`` + a small JSON), keyed by the caller's source key
(e.g. the sha256 of the label file), the model (name + weights sha256) and the texts themselves, so a
second run on the same choices does not re-embed them and any change to the file, the texts or the
model does. The cache folder can be deleted at any time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labnb.local.embedder import Embedder
from labnb.store.cachedir import cache_dir

CACHE_FORMAT = 3  # 3: labnb.local.onnx_encoder (int8); 2: the torch encoder, batches of one length
DEFAULT_CONTEXT_WEIGHT = 0.5
SEEN_LIMIT = 100_000  # item vectors an index keeps (1.5 KB each); beyond, it forgets them all and starts over


def default_cache_dir() -> Path:
    """``$LABNB_CACHE_DIR``, else ``$XDG_CACHE_HOME/labnb`` (``~/.cache/labnb``), + ``/embeddings``."""
    return cache_dir("embeddings")


@dataclass(frozen=True)
class Shortlist:
    """One item's candidates: choice indices (into the index's texts), best first, with their scores."""

    indices: tuple[int, ...]
    scores: tuple[float, ...]


class RetrievalIndex:
    """Choice texts embedded once (``raw``: L2-normalized, as cached) and searched by item texts."""

    def __init__(self, embedder: Embedder, texts: Sequence[str], raw: Any, *,
                 context: Sequence[Sequence[int]] | None = None, context_weight: float = DEFAULT_CONTEXT_WEIGHT,
                 cache_path: Path | None = None, cache_hit: bool = False) -> None:
        import numpy as np

        self.embedder = embedder
        self.texts = list(texts)
        self.cache_path = cache_path
        self.cache_hit = cache_hit
        self._seen: dict[str, Any] = {}
        self.mean = raw.mean(axis=0) if len(raw) else np.zeros(embedder.dimension, dtype=np.float32)
        centred = _normalized(raw - self.mean)
        self.vectors = centred + context_weight * _context_means(context, centred) if context else centred

    @classmethod
    def build(cls, embedder: Embedder, texts: Sequence[str], *, source_key: str, cache_dir: Path | None = None,
              **scoring: Any) -> RetrievalIndex:
        """The index of ``texts``, embedded or read from the cache when it holds them for this source and model;
        ``scoring``: ``context`` (per choice, the indices of its context choices) and ``context_weight``."""
        cache_dir = cache_dir or default_cache_dir()
        path = cache_dir / f"{cache_key(embedder, texts, source_key)}.npy"
        raw = _read_cache(path, len(texts), embedder.dimension)
        hit = raw is not None
        if not hit:
            from labnb.terminal.progress import waiting

            with waiting(f"embedding {len(texts):,} labels (once: later runs read them from the cache)"):
                raw = embedder.encode(list(texts))
            _write_cache(path, raw, {"format": CACHE_FORMAT, "source_key": source_key, "model": embedder.name,
                                     "weights_sha256": embedder.weights_sha256(), "texts": len(texts)})
        return cls(embedder, texts, raw, cache_path=path, cache_hit=hit, **scoring)

    def encode(self, item_texts: Sequence[str]) -> Any:
        """The items' L2-normalized embeddings; texts this index encoded before are not encoded again (a run
        shortlists its items when it loads them, and the local model ranks the same items later)."""
        import numpy as np

        missing = list(dict.fromkeys(t for t in item_texts if t not in self._seen))
        if missing:
            if len(self._seen) + len(missing) > SEEN_LIMIT:
                self._seen.clear()
            self._seen.update(zip(missing, self.embedder.encode(missing)))
        if not item_texts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return np.stack([self._seen[t] for t in item_texts])

    def shortlist(self, item_texts: Sequence[str], k: int, allowed: Sequence[int] | None = None) -> list[Shortlist]:
        """For each item, the ``k`` nearest choices among ``allowed`` (default: all); ties go to the lower index."""
        return self.search(self.encode(item_texts), k, allowed)

    def scores(self, item_vectors: Any, allowed: Sequence[int] | None = None) -> Any:
        """(items x choices in ``allowed``) scores of already encoded (L2-normalized) items."""
        pool = self._pool(allowed)
        return _normalized(item_vectors - self.mean) @ (self.vectors if pool is None else self.vectors[pool]).T

    def search(self, item_vectors: Any, k: int, allowed: Sequence[int] | None = None) -> list[Shortlist]:
        """``shortlist`` for already encoded (L2-normalized) items."""
        import numpy as np

        pool = self._pool(allowed)
        positions = np.arange(len(self.texts)) if pool is None else pool
        scores = self.scores(item_vectors, allowed)
        tops = best(scores, k)
        if not tops:
            return []
        columns = np.stack(tops)
        # Rounded in one numpy call (as round(x, 6) gives), then turned into Python numbers.
        rounded = np.round(np.take_along_axis(scores, columns, axis=1).astype(np.float64), 6).tolist()
        return [Shortlist(tuple(row), tuple(values)) for row, values in zip(positions[columns].tolist(), rounded)]

    def _pool(self, allowed: Sequence[int] | None) -> Any:
        import numpy as np

        return None if allowed is None else np.asarray(allowed, dtype=np.int64)


def best(scores: Any, k: int) -> list[Any]:
    """Per row of ``scores``, the columns of its ``k`` highest scores: score descending, then column (exact and
    deterministic: ties go to the lower column). Row by row: twice as fast as numpy's 2-D calls here."""
    import numpy as np

    k = min(k, scores.shape[1])
    out = []
    for row in scores:
        top = np.argpartition(-row, k - 1)[:k] if k < len(row) else np.arange(len(row))
        out.append(top[np.lexsort((top, -row[top]))])
    return out


def cache_key(embedder: Embedder, texts: Sequence[str], source_key: str) -> str:
    """sha256 of the source key, the model's name and weights, and the texts."""
    digest = hashlib.sha256()
    for part in (f"format={CACHE_FORMAT}", source_key, embedder.name, embedder.weights_sha256()):
        digest.update(part.encode() + b"\0")
    for text in texts:
        digest.update(text.encode("utf-8") + b"\n")
    return digest.hexdigest()


def _context_means(context: Sequence[Sequence[int]], vectors: Any) -> Any:
    """Row i: the mean of ``vectors``' rows ``context[i]`` (none: a zero row), summed in the order given."""
    import numpy as np

    lengths = np.array([len(ctx) for ctx in context], dtype=np.int64)
    out = np.zeros((len(context), vectors.shape[1]), dtype=vectors.dtype)
    if not lengths.sum():
        return out
    columns = np.fromiter((j for ctx in context for j in ctx), dtype=np.int64, count=int(lengths.sum()))
    shares = np.repeat((1.0 / np.maximum(lengths, 1)).astype(vectors.dtype), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    some = lengths > 0
    out[some] = np.add.reduceat(vectors[columns] * shares[:, None], starts[some], axis=0)
    return out


def _normalized(vectors: Any) -> Any:
    import numpy as np

    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _read_cache(path: Path, rows: int, dim: int) -> Any:
    import numpy as np

    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None  # absent, or cut short by a crash: embed again
    return vectors if vectors.shape == (rows, dim) and vectors.dtype == np.float32 else None


def _write_cache(path: Path, vectors: Any, meta: dict[str, Any]) -> None:
    import numpy as np

    temp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written to a temporary file and renamed: a reader never sees half a cache.
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
            temp = Path(handle.name)
            np.save(handle, vectors, allow_pickle=False)
        os.replace(temp, path)
        path.with_suffix(".json").write_text(json.dumps(meta, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    except OSError:
        # A cache that cannot be written only costs the next run the embedding time.
        if temp is not None:
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
