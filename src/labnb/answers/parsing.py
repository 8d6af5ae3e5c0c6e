"""Check a model's answer against the batch it answers and the task's choices; nothing is silently fixed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from labnb.store.results import ItemResult
from labnb.task import Choice, Item


@dataclass
class ParsedAnswer:
    """Results for the items the answer covered, the ones it missed, and what was malformed."""

    results: dict[str, ItemResult] = field(default_factory=dict)
    missing: list[Item] = field(default_factory=list)
    problem: str = ""  # set when the answer's shape is wrong: worth one repair attempt


def _integer(value: Any) -> Any:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def _offered(codes: dict[int, Choice], source: str) -> str:
    low, high = (min(codes), max(codes)) if codes else (0, 0)
    if high - low + 1 == len(codes):
        return f"of {source} ({low} to {high})"
    return f"this request offered ({len(codes)} numbers of {source})"  # a shortlist of candidates


def parse_answer(data: Any, items: Sequence[Item], codes: dict[int, Choice], *, item_noun: str = "item",
                 choice_noun: str = "label", source: str = "the label set") -> ParsedAnswer:
    """Match answer entries to items by their number ``n``; map each choice number ``k`` to its choice."""
    out = ParsedAnswer()
    entries = data.get("r") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        out.problem = f'the answer must be a JSON object {{"r": [...]}} with one entry per {item_noun}'
        return out
    seen: set[int] = set()
    problems: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            problems.append("every entry of r must be an object")
            continue
        n, k = _integer(entry.get("n")), _integer(entry.get("k"))
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= len(items):
            problems.append(f"n must be a {item_noun} number from 1 to {len(items)}, got {n!r}")
            continue
        if not isinstance(k, int) or isinstance(k, bool):
            problems.append(f"entry n={n} needs an integer {choice_noun} number k, got {k!r}")
            continue
        if n in seen:
            problems.append(f"{item_noun} {n} is answered twice")
            continue
        seen.add(n)
        item = items[n - 1]
        raw = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
        if k in codes:
            out.results[item.item_id] = ItemResult(item.item_id, dict(codes[k].answer), raw_response=raw)
        else:  # kept as answered, never mapped to a neighbour
            out.results[item.item_id] = ItemResult(
                item.item_id, status="invalid", error_type="invalid_label", raw_response=raw,
                error=f"k={k} is not a {choice_noun} number {_offered(codes, source)}")
    if problems:
        out.problem = "; ".join(dict.fromkeys(problems))
    out.missing = [p for i, p in enumerate(items, start=1) if i not in seen]
    return out
