"""How the local model scores a task's choices: choice and item texts, vectors, scores.

Design (the defaults of ``Design``); a choice may belong to a group, whose vector then counts too:

* a choice is embedded from two views, "Name (Group name)" and "Name: description",
  averaged; a group from its name, "Name: description" and the centroid of its choices;
* a description that lists examples ("ashwagandha, rhodiola rosea, holy basil") is also split
  into one text per example: a mean-pooled list blurs its entries, an item matches one of them;
* an item from two views, its main text alone and text + description + other text fields, averaged
  (the main text is the sharpest signal, the rest adds evidence without drowning it);
* every vector is centered on the mean choice vector: the direction all labels of one label set
  share says nothing about which label fits, and removing it spreads the cosines apart;
* choice score = (cos(item, choice) + max cos(item, example)) / 2
  + w_g * cos(item, group) + w_l * lexical, where lexical is the IDF-weighted share of the
  item's label words found in the choice's texts (dense models blur rare ingredient
  names that an exact match catches: the usual dense + sparse hybrid);
* confidence = softmax of the choice scores at the model's training temperature (0.05).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from labnb.local.embedder import Embedder
from labnb.task import Choice, Group, Item

FIELD_CHARS = 300  # per field, as in the LLM prompts: long marketing copy only dilutes the title
STOPWORDS = frozenset({
    "a", "an", "and", "or", "the", "of", "for", "in", "on", "with", "to", "from", "by", "as", "at", "is", "are",
    "be", "its", "it", "this", "that", "into", "per", "plus", "such", "any", "all", "other", "their", "own", "not",
    "no",
})


@dataclass(frozen=True)
class Design:
    """The knobs of the scoring; the defaults are the local model, ``NAIVE`` the baseline."""

    choice_views: tuple[str, ...] = ("{name} ({parent})", "{name}: {description}")
    group_views: tuple[str, ...] = ("{name}", "{name}: {description}")
    group_children: bool = True  # a group is also the centroid of its choices
    item_views: tuple[str, ...] = ("title", "full")
    example_view: str = "{name}: {example}"  # each example a description lists; "" turns examples off
    center: bool = True
    group_weight: float = 0.25
    lexical_weight: float = 0.1
    temperature: float = 0.05  # all-MiniLM-L6-v2 was trained with scale 20 = 1 / 0.05

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


NAIVE = Design(choice_views=("{name}",), group_views=(), group_children=False, item_views=("title",),
               example_view="", center=False, group_weight=0.0, lexical_weight=0.0)
ITEM_VIEWS = {"title": "{title}", "full": "{title}. {description}. {other text fields}"}


def item_texts(item: Item) -> dict[str, str]:
    """The item's views: ``title`` (its main text) and ``full`` (text, description, other text fields)."""
    parts = [item.text]
    if item.description:
        parts.append(_clip(item.description))
    parts.extend(_clip(v) for v in item.extra.values() if _is_text(v))
    return {"title": item.text, "full": ". ".join(p.rstrip(". ") for p in parts)}


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= FIELD_CHARS else text[:FIELD_CHARS].rsplit(" ", 1)[0]


def _is_text(value: str) -> bool:
    # Prices, SKUs, sizes and URLs say nothing about the label; words do.
    return bool(re.search(r"[^\W\d_]{3}", value)) and not re.match(r"(?i)\s*https?://", value)


def groups(choices: Sequence[Choice]) -> list[Group]:
    """The distinct groups of ``choices`` in order; none unless every choice has one."""
    if not choices or any(c.group is None for c in choices):
        return []
    return list(dict.fromkeys(c.group for c in choices if c.group is not None))


def node_texts(choices: Sequence[Choice], design: Design) -> dict[str, list[str]]:
    """Rendered views per node, keyed by group id or choice id."""
    out: dict[str, list[str]] = {}
    grouped = bool(groups(choices))
    for choice in choices:
        group = choice.group if grouped else None
        if group is not None and group.id not in out:
            out[group.id] = _views(design.group_views, group.name, "", group.description)
        out[choice.id] = _views(design.choice_views, choice.name, group.name if group else "", choice.description)
    return out


def _views(templates: tuple[str, ...], name: str, parent: str, description: str) -> list[str]:
    views = []
    for template in templates:
        if "{description}" in template and not description:
            continue  # a view of an empty description would only repeat the name
        if "{parent}" in template and not parent:
            template = "{name}"  # an ungrouped choice is seen by its name
        views.append(template.format(name=name, parent=parent, description=description))
    return list(dict.fromkeys(views))


def examples(description: str) -> list[str]:
    """The items a description lists: split at commas, semicolons and colons outside parentheses."""
    items: list[str] = []
    current: list[str] = []
    depth = 0
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
class ChoiceIndex:
    """Choice vectors and word weights, built once per (model, choices, design), kept in memory."""

    choices: list[Choice]
    choice_vectors: Any
    group_vectors: Any
    choice_group: Any  # for each choice, its row in group_vectors (None without groups)
    center: Any
    example_vectors: Any = None
    example_spans: list[tuple[int, int]] = field(default_factory=list)  # per choice: its rows in example_vectors
    vocabulary: dict[str, int] = field(default_factory=dict)  # label word -> column of word_choices
    idf: Any = None  # per vocabulary word
    word_choices: Any = None  # (words x choices) 1 where the choice's texts contain the word
    texts: dict[str, list[str]] = field(default_factory=dict)
    example_texts: dict[str, list[str]] = field(default_factory=dict)
    tokens: int = 0


_INDEXES: dict[str, ChoiceIndex] = {}


def choice_index(embedder: Embedder, choices: Sequence[Choice], design: Design) -> ChoiceIndex:
    """The choices' vectors; computed on first use, then served from a process-wide cache."""
    import numpy as np

    choices = list(choices)
    texts = node_texts(choices, design)
    parents = groups(choices)
    example_texts = {
        c.id: [design.example_view.format(name=c.name, parent=c.group.name if c.group else "", example=e)
               for e in (examples(c.description) if design.example_view else [])]
        for c in choices
    }
    key = hashlib.sha256(json.dumps([embedder.package, texts, example_texts, design.to_dict()]).encode()).hexdigest()
    if key in _INDEXES:
        return _INDEXES[key]
    flat = list(dict.fromkeys([t for views in texts.values() for t in views]
                              + [t for items in example_texts.values() for t in items]))
    vectors = dict(zip(flat, embedder.encode(flat)))
    subs = normalize(np.stack([np.mean([vectors[t] for t in texts[c.id]], axis=0) for c in choices]))
    cats = []
    for group in parents:
        parts = [vectors[t] for t in texts[group.id]]
        if design.group_children or not parts:
            rows = [i for i, c in enumerate(choices) if c.group == group]
            parts.append(normalize(subs[rows].mean(axis=0, keepdims=True))[0])
        cats.append(normalize(np.mean(parts, axis=0, keepdims=True))[0])
    center = subs.mean(axis=0) if design.center else np.zeros(subs.shape[1], dtype=np.float32)
    spans, rows = [], []
    for c in choices:
        spans.append((len(rows), len(rows) + len(example_texts[c.id])))
        rows.extend(vectors[t] for t in example_texts[c.id])
    example_vectors = normalize(np.stack(rows) - center) if rows else None
    # The words of a choice: its own texts and its group's name.
    node_words = [set().union(*(words(t) for t in texts[c.id]), words(c.group.name) if c.group else set())
                  for c in choices]
    vocabulary = {w: i for i, w in enumerate(sorted(set().union(*node_words)))}
    word_choices = np.zeros((len(vocabulary), len(choices)), dtype=np.float64)
    for j, node in enumerate(node_words):
        word_choices[[vocabulary[w] for w in node], j] = 1.0
    index = ChoiceIndex(
        choices=choices, choice_vectors=normalize(subs - center),
        group_vectors=normalize(np.stack(cats) - center) if cats else None,
        choice_group=np.array([parents.index(c.group) for c in choices if c.group]) if parents else None, center=center,
        example_vectors=example_vectors, example_spans=spans, vocabulary=vocabulary,
        idf=np.log(len(choices) / np.maximum(word_choices.sum(axis=1), 1)), word_choices=word_choices,
        texts=texts, example_texts=example_texts, tokens=embedder.count_tokens(flat),
    )
    _INDEXES[key] = index
    return index


def normalize(matrix: Any) -> Any:
    """Rows scaled to unit length (float32)."""
    import numpy as np

    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def lexical_scores(index: ChoiceIndex, texts: Sequence[str]) -> Any:
    """(texts x choices): the IDF mass of each text's choice words found in the choice's texts, as a share."""
    import numpy as np

    weights = np.zeros((len(texts), len(index.vocabulary)), dtype=np.float64)
    for row, text in enumerate(texts):
        found = [index.vocabulary[w] for w in words(text) if w in index.vocabulary]
        weights[row, found] = index.idf[found]
    totals = weights.sum(axis=1, keepdims=True)
    return (weights @ index.word_choices) / np.maximum(totals, 1e-12)


def score_items(embedder: Embedder, index: ChoiceIndex, design: Design,
                items: Sequence[Item]) -> tuple[Any, list[str]]:
    """(items x choices) probabilities, and the distinct texts encoded (in encoding order)."""
    import numpy as np

    views = [item_texts(p) for p in items]
    wanted = [list(dict.fromkeys(v[name] for name in design.item_views)) for v in views]
    texts = list(dict.fromkeys(t for row in wanted for t in row))
    vectors = dict(zip(texts, embedder.encode(texts)))
    rows = normalize(np.stack([np.mean([vectors[t] for t in row], axis=0) for row in wanted]))
    # float64 matrix multiplication: in float32 it rounds differently with the number of rows, which moved
    # a confidence's 6th decimal between batch sizes; in float64 that is 1e-16, far below the rounding.
    rows = normalize(rows - index.center).astype(np.float64)
    scores = rows @ index.choice_vectors.T
    if index.example_vectors is not None:
        # A choice without examples counts its own vector as its best example.
        nearest = rows @ index.example_vectors.T
        best = scores.copy()
        for j, (start, stop) in enumerate(index.example_spans):
            if stop > start:
                best[:, j] = nearest[:, start:stop].max(axis=1)
        scores = (scores + best) / 2
    if design.group_weight and index.group_vectors is not None:
        scores += design.group_weight * (rows @ index.group_vectors.T)[:, index.choice_group]
    if design.lexical_weight:
        scores += design.lexical_weight * lexical_scores(index, [" ".join(row) for row in wanted])
    z = scores / design.temperature
    z -= z.max(axis=1, keepdims=True)
    probs = np.exp(z)
    return probs / probs.sum(axis=1, keepdims=True), texts
