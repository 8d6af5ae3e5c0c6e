"""Which examples a request shows: the K nearest per item (knn), K seeded at random, or the first K (fixed).

Leakage guard: an example whose normalized text equals an item's is never shown with that item;
nor one whose id equals the item's, when both files gave ids (``match_ids``): ids numbered by row
position (``p0001``…, for files without an id column) are never evidence of overlap. A request
shows its examples to every item in it, so such an example is left out of the whole request; for
``fixed`` (one cached prefix for the run) it is left out of the run.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from labnb.errors import UsageError
from labnb.fewshot.examples import Example, ExampleSet, normalized_text

METHODS = ("knn", "random", "fixed")
DECIMALS = 6  # similarities are rounded before ranking, so ties break by file order on every machine

Item = tuple[str, str]  # (item id, text)
Encode = Callable[[list[str]], Any]  # texts -> L2-normalized float array (len(texts), dim)


@dataclass(frozen=True)
class ShotSettings:
    """``--shots K --shot-selection METHOD --seed N``."""

    shots: int
    method: str = "knn"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise UsageError(f"--shot-selection: unknown method '{self.method}' (expected {', '.join(METHODS)})")
        if self.shots < 0:
            raise UsageError("--shots must be 0 or more")

    def record(self) -> dict[str, Any]:
        return {"shots": self.shots, "shot_selection": self.method, "seed": self.seed}


@dataclass(frozen=True)
class Leakage:
    """Input items that match an example by id or normalized text, and the examples they match (file order)."""

    pairs: int = 0
    item_ids: tuple[str, ...] = ()
    example_indexes: tuple[int, ...] = ()
    by_id: bool = True  # whether ids were compared (both files gave them) or only texts

    def record(self) -> dict[str, Any]:
        return {"overlapping_pairs": self.pairs, "overlapping_items": len(self.item_ids),
                "overlapping_item_ids": list(self.item_ids[:20])}


@dataclass
class ShotSelector:
    """Chooses the examples of each request; ``encode`` (the embedding model) is needed for knn only."""

    examples: ExampleSet
    settings: ShotSettings
    encode: Encode | None = None
    match_ids: bool = True  # False when either side's ids were numbered by position
    _by_text: dict[str, list[int]] = field(default_factory=dict, init=False, repr=False)
    _by_id: dict[str, list[int]] = field(default_factory=dict, init=False, repr=False)
    _vectors: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        for i, e in enumerate(self.examples.examples):
            if self.match_ids:
                self._by_id.setdefault(e.id, []).append(i)
            self._by_text.setdefault(normalized_text(e.text), []).append(i)
        if self.settings.method == "knn" and self.encode is None:
            raise ValueError("knn shot selection needs an encode function")

    def overlapping(self, item: Item) -> set[int]:
        """Indexes of the examples that must not be shown with ``item``."""
        return set(self._by_id.get(item[0], ())) | set(self._by_text.get(normalized_text(item[1]), ()))

    def leakage(self, items: Sequence[Item]) -> Leakage:
        """How much of the input the examples file overlaps."""
        hits = [(item[0], self.overlapping(item)) for item in items]
        return Leakage(sum(len(found) for _, found in hits), tuple(i for i, found in hits if found),
                       tuple(sorted(set().union(*(found for _, found in hits)))), self.match_ids)

    def fixed(self, items: Sequence[Item]) -> list[Example]:
        """The examples of the cached prefix: the first K that overlap no item of the run (fixed only)."""
        if self.settings.method != "fixed":
            return []
        banned = set().union(*(self.overlapping(item) for item in items)) if items else set()
        kept = [e for i, e in enumerate(self.examples.examples) if i not in banned]
        return kept[: self.settings.shots]

    def for_batch(self, items: Sequence[Item]) -> list[Example]:
        """The examples shown after the prefix of the request for ``items`` (knn and random)."""
        if self.settings.method == "fixed" or not self.settings.shots or not items:
            return []
        banned = set().union(*(self.overlapping(item) for item in items))
        if self.settings.method == "random":
            return self._random(items, banned)
        return self._nearest(items, banned)

    def _random(self, items: Sequence[Item], banned: set[int]) -> list[Example]:
        # Seeded by the run's seed and the request's items: a resumed run draws the same examples.
        rng = random.Random(f"{self.settings.seed}:" + "\x1f".join(item[0] for item in items))
        pool = [i for i in range(len(self.examples)) if i not in banned]
        return [self.examples.examples[i] for i in rng.sample(pool, min(self.settings.shots, len(pool)))]

    def _nearest(self, items: Sequence[Item], banned: set[int]) -> list[Example]:
        import numpy as np

        assert self.encode is not None
        if self._vectors is None:
            self._vectors = self.encode([e.text for e in self.examples.examples])
        similarity = np.round(self.encode([item[1] for item in items]) @ self._vectors.T, DECIMALS)
        chosen: dict[int, None] = {}
        for row in similarity:
            order = sorted((i for i in range(len(row)) if i not in banned), key=lambda i: (-row[i], i))
            chosen.update(dict.fromkeys(order[: self.settings.shots]))
        return [self.examples.examples[i] for i in chosen]
