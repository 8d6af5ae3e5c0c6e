"""Labelled examples as generic (id, text, gold label id) triples, plus the fields a prompt may show."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Example:
    """One labelled item; ``label`` is the id of its gold choice, ``fields`` (name, value) pairs to show."""

    id: str
    text: str
    label: str
    fields: tuple[tuple[str, str], ...] = ()


def normalized_text(text: str) -> str:
    """Whitespace collapsed and case folded: what the leakage guard compares."""
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class ExampleSet:
    """The examples of a run, in file order, with the sha256 of the file they came from."""

    examples: tuple[Example, ...]
    sha256: str = ""
    source: str = ""
    by_id: dict[str, Example] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_id.update((e.id, e) for e in self.examples)

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def labels(self) -> list[str]:
        return [e.label for e in self.examples]

    def content_sha256(self) -> str:
        """sha256 of the triples themselves (what a learner is fitted on), independent of the file format."""
        rows = [[e.id, e.text, e.label] for e in self.examples]
        return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode("utf-8")).hexdigest()

    def record(self) -> dict[str, Any]:
        return {"count": len(self.examples), "file_sha256": self.sha256, "content_sha256": self.content_sha256(),
                "source": self.source, "labels": len(set(self.labels))}


def shown(examples: Sequence[Example], k_of: dict[str, int], names: dict[str, str]) -> list[dict[str, Any]]:
    """The examples as template variables: {id, text, fields, k, label}; ``k_of`` maps label id → choice number."""
    return [{"id": e.id, "text": e.text, "fields": [list(f) for f in e.fields], "k": k_of[e.label],
             "label": names.get(e.label, e.label)} for e in examples]


@dataclass(frozen=True)
class ExampleItem:
    """An example seen as an item (what the zero-shot scorer reads): its text and fields."""

    item_id: str
    text: str
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    has_gold: bool = True

    @classmethod
    def of(cls, example: Example) -> ExampleItem:
        fields = dict(example.fields)
        return cls(example.id, example.text, fields.pop("description", ""), fields)

    def to_dict(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "text": self.text}
