"""Zero-shot classification with a local sentence-embedding model (no key, no network, $0).

Design (see ``Design``): every taxonomy node is embedded from several texts ("views": its name
with its parent's name, and its description) averaged into one vector; a category is its own
views plus the centroid of its subcategories. Products are embedded from the title alone and
from title + description + other text fields, averaged. All vectors are centered on the mean
subcategory vector (the direction every supplement label shares carries no information about
which one fits) before cosine similarity. A pair's score is log p(subcategory) + w * log p(category),
each a softmax over cosines at the model's training temperature, so both levels count.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assign_cat.classifier import Classifier
from assign_cat.products import Product
from assign_cat.records import BatchOutcome, ProductResult
from assign_cat.taxonomy import Taxonomy
from labnb.calls import CallRecord
from labnb.config import ModelEntry
from labnb.embedder import Embedder, load_embedder
from labnb.timeutil import utc_now
from labnb.usage import Usage

INTERNAL_BATCH = 256
TOP_K = 3
DECIMALS = 6
FIELD_CHARS = 300  # per field, as in the LLM prompts: long marketing copy only dilutes the title
INLINE_TEXTS = 20  # calls with at most this many texts record the texts themselves


@dataclass(frozen=True)
class Design:
    """The knobs of the scoring; the defaults are the local model, ``NAIVE`` the baseline."""

    sub_views: tuple[str, ...] = ("{name} ({parent})", "{name}: {description}")
    cat_views: tuple[str, ...] = ("{name}", "{name}: {description}")
    cat_children: bool = True  # a category is also the centroid of its subcategories
    product_views: tuple[str, ...] = ("title", "full")
    center: bool = True
    temperature: float = 0.05  # all-MiniLM-L6-v2 was trained with scale 20 = 1 / 0.05
    category_weight: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


NAIVE = Design(sub_views=("{name}",), cat_views=(), cat_children=False, product_views=("title",),
               center=False, category_weight=0.0)


def product_texts(product: Product) -> dict[str, str]:
    """The product's views: ``title`` and ``full`` (title, description, other text fields)."""
    parts = [product.title]
    if product.description:
        parts.append(_clip(product.description))
    parts.extend(_clip(v) for k, v in product.extra.items() if _is_text(v))
    return {"title": product.title, "full": ". ".join(p.rstrip(". ") for p in parts)}


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= FIELD_CHARS else text[:FIELD_CHARS].rsplit(" ", 1)[0]


def _is_text(value: str) -> bool:
    # Prices, SKUs, sizes and URLs say nothing about the category; words do.
    return bool(re.search(r"[^\W\d_]{3}", value)) and not re.match(r"(?i)https?://", value.strip())


def node_texts(taxonomy: Taxonomy, design: Design) -> dict[str, list[str]]:
    """Rendered views per node, keyed ``category`` or ``category/subcategory``."""
    out: dict[str, list[str]] = {}
    for cat in taxonomy.categories:
        out[cat.id] = _views(design.cat_views, cat.name, "", cat.description)
        for sub in cat.subcategories:
            out[f"{cat.id}/{sub.id}"] = _views(design.sub_views, sub.name, cat.name, sub.description)
    return out


def _views(templates: tuple[str, ...], name: str, parent: str, description: str) -> list[str]:
    views = []
    for template in templates:
        if "{description}" in template and not description:
            continue  # a view of an empty description would only repeat the name
        views.append(template.format(name=name, parent=parent, description=description))
    return list(dict.fromkeys(views))


@dataclass
class TaxonomyIndex:
    """Taxonomy vectors, built once per (model, taxonomy, design) and kept in memory."""

    pairs: list[tuple[str, str]]
    sub_vectors: Any
    cat_vectors: Any
    pair_category: Any  # index into cat_vectors for each pair
    center: Any
    texts: dict[str, list[str]] = field(default_factory=dict)
    tokens: int = 0


_INDEXES: dict[str, TaxonomyIndex] = {}


def taxonomy_index(embedder: Embedder, taxonomy: Taxonomy, design: Design) -> TaxonomyIndex:
    import numpy as np

    texts = node_texts(taxonomy, design)
    key = hashlib.sha256(json.dumps([embedder.package, texts, design.to_dict()], sort_keys=True).encode()).hexdigest()
    if key in _INDEXES:
        return _INDEXES[key]
    flat = list(dict.fromkeys(t for views in texts.values() for t in views))
    vectors = dict(zip(flat, embedder.encode(flat)))
    pairs = [(c.id, s.id) for c in taxonomy.categories for s in c.subcategories]
    subs = _normalize(np.stack([np.mean([vectors[t] for t in texts[f"{c}/{s}"]], axis=0) for c, s in pairs]))
    cats = []
    for cat in taxonomy.categories:
        parts = [vectors[t] for t in texts[cat.id]]
        if design.cat_children or not parts:
            rows = [i for i, (c, _) in enumerate(pairs) if c == cat.id]
            parts.append(_normalize(subs[rows].mean(axis=0, keepdims=True))[0])
        cats.append(np.mean(parts, axis=0))
    center = subs.mean(axis=0) if design.center else np.zeros(subs.shape[1], dtype=np.float32)
    index = TaxonomyIndex(
        pairs=pairs, sub_vectors=_normalize(subs - center), cat_vectors=_normalize(np.stack(cats) - center),
        pair_category=np.array([taxonomy.category_ids.index(c) for c, _ in pairs]), center=center,
        texts=texts, tokens=embedder.count_tokens(flat),
    )
    _INDEXES[key] = index
    return index


def _normalize(matrix: Any) -> Any:
    import numpy as np

    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def _log_softmax(scores: Any, temperature: float) -> Any:
    import numpy as np

    z = scores.astype(np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def score_products(embedder: Embedder, index: TaxonomyIndex, design: Design,
                   products: Sequence[Product]) -> tuple[Any, list[str]]:
    """(products x pairs) probabilities of every pair, and the distinct texts encoded."""
    import numpy as np

    views = [product_texts(p) for p in products]
    wanted = [[v[name] for name in design.product_views] for v in views]
    texts = list(dict.fromkeys(t for row in wanted for t in row))
    vectors = dict(zip(texts, embedder.encode(texts)))
    items = _normalize(np.stack([np.mean([vectors[t] for t in row], axis=0) for row in wanted]))
    items = _normalize(items - index.center)
    scores = _log_softmax(items @ index.sub_vectors.T, design.temperature)
    if design.category_weight:
        cat_scores = _log_softmax(items @ index.cat_vectors.T, design.temperature)
        scores = scores + design.category_weight * cat_scores[:, index.pair_category]
    return np.exp(_log_softmax(scores, 1.0)), texts


class EmbeddingClassifier(Classifier):
    """The ``local`` provider: nearest (category, subcategory) by sentence-embedding similarity."""

    def __init__(self, entry: ModelEntry, taxonomy: Taxonomy, *, design: Design | None = None,
                 embedder: Embedder | None = None) -> None:
        super().__init__(entry)
        self.taxonomy = taxonomy
        self.design = design or Design()
        self._embedder = embedder

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder()
        return self._embedder

    def batch_size(self, requested: int) -> int:
        return INTERNAL_BATCH  # one encode per 256 products, whatever --batch-size says

    def index(self) -> TaxonomyIndex:
        return taxonomy_index(self.embedder, self.taxonomy, self.design)

    async def classify(self, products: Sequence[Product]) -> BatchOutcome:
        products = list(products)
        started, clock = utc_now(), time.perf_counter()
        probs, texts = await asyncio.to_thread(self._score, products)
        tokens = await asyncio.to_thread(self.embedder.count_tokens, texts)
        latency = round((time.perf_counter() - clock) * 1000, 3)
        digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()
        request: dict[str, Any] = {"count": len(products), "texts_count": len(texts), "texts_sha256": digest}
        if len(texts) <= INLINE_TEXTS:
            request["texts"] = texts
        call = CallRecord(
            call_id=self.new_call_id(), item_ids=[p.product_id for p in products], started_at=started,
            latency_ms=latency, status="ok", usage=Usage(input_tokens=tokens), request=request,
        )
        results = [self._result(p, row, call) for p, row in zip(products, probs)]
        call.response = f"{len(results)} products scored"
        return BatchOutcome(results=results, calls=[call])

    def _score(self, products: list[Product]) -> tuple[Any, list[str]]:
        return score_products(self.embedder, self.index(), self.design, products)

    def _result(self, product: Product, row: Any, call: CallRecord) -> ProductResult:
        import numpy as np

        rounded = np.round(row, DECIMALS)
        # Stable sort on the rounded score: ties resolve in taxonomy order, run after run.
        order = sorted(range(len(rounded)), key=lambda i: -rounded[i])[:TOP_K]
        top = [{"category": self.index().pairs[i][0], "subcategory": self.index().pairs[i][1],
                "score": float(rounded[i])} for i in order]
        return ProductResult(
            product.product_id, category=top[0]["category"], subcategory=top[0]["subcategory"], status="ok",
            raw_response=json.dumps({"top": top}, separators=(",", ":"), sort_keys=True),
            confidence=top[0]["score"], latency_ms=call.latency_ms, call_id=call.call_id,
        )

    def prompt_templates(self) -> dict[str, Any]:
        index = self.index()
        return {
            "method": "sentence-embedding similarity (zero-shot)",
            "design": self.design.to_dict(),
            "product_views": {"title": "{title}", "full": "{title}. {description}. {other text fields}"},
            "field_chars": FIELD_CHARS,
            "node_texts": index.texts,
            "node_tokens": index.tokens,
            "score": "log p(subcategory) + category_weight * log p(category); p = softmax(cosine / temperature)",
            "confidence": "softmax of the pair scores over all pairs; raw_response holds the top 3",
        }

    def provenance(self) -> dict[str, Any]:
        return self.embedder.provenance()
