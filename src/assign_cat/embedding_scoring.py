"""How the local model scores (category, subcategory) pairs: node and product texts, vectors, scores.

Design (the defaults of ``Design``):

* a subcategory is embedded from two views, "Name (Parent name)" and "Name: description",
  averaged; a category from its name, "Name: description" and the centroid of its subcategories;
* a description that lists examples ("ashwagandha, rhodiola rosea, holy basil") is also split
  into one text per example: a mean-pooled list blurs its items, a product matches one of them;
* a product from two views, its title alone and title + description + other text fields, averaged
  (the title is the sharpest signal, the rest adds evidence without drowning it);
* every vector is centered on the mean subcategory vector: the direction all labels of one shop
  share says nothing about which label fits, and removing it spreads the cosines apart;
* pair score = (cos(product, subcategory) + max cos(product, example)) / 2
  + w_c * cos(product, category) + w_l * lexical, where lexical is the IDF-weighted share of the
  product's taxonomy words found in the subcategory's texts (dense models blur rare ingredient
  names that an exact match catches: the usual dense + sparse hybrid);
* confidence = softmax of the pair scores at the model's training temperature (0.05).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assign_cat.products import Product
from assign_cat.taxonomy import Taxonomy
from labnb.embedder import Embedder

FIELD_CHARS = 300  # per field, as in the LLM prompts: long marketing copy only dilutes the title
STOPWORDS = frozenset({
    "a", "an", "and", "or", "the", "of", "for", "in", "on", "with", "to", "from", "by", "as", "at", "is", "are",
    "be", "its", "it", "this", "that", "into", "per", "plus", "such", "any", "all", "other", "their", "own", "not",
    "no",
})


@dataclass(frozen=True)
class Design:
    """The knobs of the scoring; the defaults are the local model, ``NAIVE`` the baseline."""

    sub_views: tuple[str, ...] = ("{name} ({parent})", "{name}: {description}")
    cat_views: tuple[str, ...] = ("{name}", "{name}: {description}")
    cat_children: bool = True  # a category is also the centroid of its subcategories
    product_views: tuple[str, ...] = ("title", "full")
    example_view: str = "{name}: {example}"  # each example a description lists; "" turns examples off
    center: bool = True
    category_weight: float = 0.25
    lexical_weight: float = 0.1
    temperature: float = 0.05  # all-MiniLM-L6-v2 was trained with scale 20 = 1 / 0.05

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


NAIVE = Design(sub_views=("{name}",), cat_views=(), cat_children=False, product_views=("title",),
               example_view="", center=False, category_weight=0.0, lexical_weight=0.0)
PRODUCT_VIEWS = {"title": "{title}", "full": "{title}. {description}. {other text fields}"}


def product_texts(product: Product) -> dict[str, str]:
    """The product's views: ``title`` and ``full`` (title, description, other text fields)."""
    parts = [product.title]
    if product.description:
        parts.append(_clip(product.description))
    parts.extend(_clip(v) for v in product.extra.values() if _is_text(v))
    return {"title": product.title, "full": ". ".join(p.rstrip(". ") for p in parts)}


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= FIELD_CHARS else text[:FIELD_CHARS].rsplit(" ", 1)[0]


def _is_text(value: str) -> bool:
    # Prices, SKUs, sizes and URLs say nothing about the category; words do.
    return bool(re.search(r"[^\W\d_]{3}", value)) and not re.match(r"(?i)\s*https?://", value)


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


def examples(description: str) -> list[str]:
    """The items a description lists: split at commas, semicolons and colons outside parentheses."""
    items, depth, current = [], 0, []
    for char in description:
        depth += (char == "(") - (char == ")")
        if char in ",;:" and depth <= 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    items = [re.sub(r"^(and|or|plus) ", "", " ".join(item.split()).strip(" .")) for item in items]
    kept = [item for item in items if len(item) > 2]
    return kept if len(kept) > 1 else []  # a description that lists nothing is its own view already


def words(text: str) -> set[str]:
    """Lower-cased word stems (plural -s cut) of two or more characters, stopwords removed."""
    out = set()
    for word in re.findall(r"[^\W_]+", text.lower()):
        if len(word) < 2 or word in STOPWORDS or word.isdigit():
            continue
        if len(word) > 4 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.add(word)
    return out


@dataclass
class TaxonomyIndex:
    """Taxonomy vectors and word weights, built once per (model, taxonomy, design), kept in memory."""

    pairs: list[tuple[str, str]]
    sub_vectors: Any
    cat_vectors: Any
    pair_category: Any  # for each pair, its row in cat_vectors
    center: Any
    example_vectors: Any = None
    example_spans: list[tuple[int, int]] = field(default_factory=list)  # per pair: its rows in example_vectors
    vocabulary: dict[str, int] = field(default_factory=dict)  # taxonomy word -> column of word_pairs
    idf: Any = None  # per vocabulary word
    word_pairs: Any = None  # (words x pairs) 1 where the pair's texts contain the word
    texts: dict[str, list[str]] = field(default_factory=dict)
    example_texts: dict[str, list[str]] = field(default_factory=dict)
    tokens: int = 0


_INDEXES: dict[str, TaxonomyIndex] = {}


def taxonomy_index(embedder: Embedder, taxonomy: Taxonomy, design: Design) -> TaxonomyIndex:
    """The taxonomy's vectors; computed on first use, then served from a process-wide cache."""
    import numpy as np

    texts = node_texts(taxonomy, design)
    pairs = [(c.id, s.id) for c in taxonomy.categories for s in c.subcategories]
    example_texts = {
        f"{c.id}/{s.id}": [design.example_view.format(name=s.name, parent=c.name, example=e)
                           for e in (examples(s.description) if design.example_view else [])]
        for c in taxonomy.categories for s in c.subcategories
    }
    key = hashlib.sha256(json.dumps([embedder.package, texts, example_texts, design.to_dict()]).encode()).hexdigest()
    if key in _INDEXES:
        return _INDEXES[key]
    flat = list(dict.fromkeys([t for views in texts.values() for t in views]
                              + [t for items in example_texts.values() for t in items]))
    vectors = dict(zip(flat, embedder.encode(flat)))
    subs = normalize(np.stack([np.mean([vectors[t] for t in texts[f"{c}/{s}"]], axis=0) for c, s in pairs]))
    cats = []
    for cat in taxonomy.categories:
        parts = [vectors[t] for t in texts[cat.id]]
        if design.cat_children or not parts:
            rows = [i for i, (c, _) in enumerate(pairs) if c == cat.id]
            parts.append(normalize(subs[rows].mean(axis=0, keepdims=True))[0])
        cats.append(normalize(np.mean(parts, axis=0, keepdims=True))[0])
    center = subs.mean(axis=0) if design.center else np.zeros(subs.shape[1], dtype=np.float32)
    spans, rows = [], []
    for c, s in pairs:
        spans.append((len(rows), len(rows) + len(example_texts[f"{c}/{s}"])))
        rows.extend(vectors[t] for t in example_texts[f"{c}/{s}"])
    example_vectors = normalize(np.stack(rows) - center) if rows else None
    # The words of a pair: its subcategory's texts and its category's name.
    names = {c.id: c.name for c in taxonomy.categories}
    node_words = [set().union(*(words(t) for t in texts[f"{c}/{s}"]), words(names[c])) for c, s in pairs]
    vocabulary = {w: i for i, w in enumerate(sorted(set().union(*node_words)))}
    word_pairs = np.zeros((len(vocabulary), len(pairs)), dtype=np.float64)
    for j, node in enumerate(node_words):
        word_pairs[[vocabulary[w] for w in node], j] = 1.0
    index = TaxonomyIndex(
        pairs=pairs, sub_vectors=normalize(subs - center), cat_vectors=normalize(np.stack(cats) - center),
        pair_category=np.array([taxonomy.category_ids.index(c) for c, _ in pairs]), center=center,
        example_vectors=example_vectors, example_spans=spans, vocabulary=vocabulary,
        idf=np.log(len(pairs) / word_pairs.sum(axis=1)), word_pairs=word_pairs,
        texts=texts, example_texts=example_texts, tokens=embedder.count_tokens(flat),
    )
    _INDEXES[key] = index
    return index


def normalize(matrix: Any) -> Any:
    """Rows scaled to unit length (float32)."""
    import numpy as np

    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def lexical_scores(index: TaxonomyIndex, texts: Sequence[str]) -> Any:
    """(texts x pairs): the IDF mass of each text's taxonomy words found in the pair's texts, as a share."""
    import numpy as np

    weights = np.zeros((len(texts), len(index.vocabulary)), dtype=np.float64)
    for row, text in enumerate(texts):
        found = [index.vocabulary[w] for w in words(text) if w in index.vocabulary]
        weights[row, found] = index.idf[found]
    totals = weights.sum(axis=1, keepdims=True)
    return (weights @ index.word_pairs) / np.maximum(totals, 1e-12)


def score_products(embedder: Embedder, index: TaxonomyIndex, design: Design,
                   products: Sequence[Product]) -> tuple[Any, list[str]]:
    """(products x pairs) probabilities, and the distinct texts encoded (in encoding order)."""
    import numpy as np

    views = [product_texts(p) for p in products]
    wanted = [list(dict.fromkeys(v[name] for name in design.product_views)) for v in views]
    texts = list(dict.fromkeys(t for row in wanted for t in row))
    vectors = dict(zip(texts, embedder.encode(texts)))
    items = normalize(np.stack([np.mean([vectors[t] for t in row], axis=0) for row in wanted]))
    items = normalize(items - index.center)
    scores = (items @ index.sub_vectors.T).astype(np.float64)
    if index.example_vectors is not None:
        # A subcategory without examples counts its own vector as its best example.
        nearest = items @ index.example_vectors.T
        best = scores.copy()
        for j, (start, stop) in enumerate(index.example_spans):
            if stop > start:
                best[:, j] = nearest[:, start:stop].max(axis=1)
        scores = (scores + best) / 2
    if design.category_weight:
        scores += design.category_weight * (items @ index.cat_vectors.T)[:, index.pair_category]
    if design.lexical_weight:
        scores += design.lexical_weight * lexical_scores(index, [" ".join(row) for row in wanted])
    z = scores / design.temperature
    z -= z.max(axis=1, keepdims=True)
    probs = np.exp(z)
    return probs / probs.sum(axis=1, keepdims=True), texts
