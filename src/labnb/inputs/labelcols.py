"""Which input columns may be offered to a model (an LLM's prompt or the local model): never one that holds labels.

An input's own label columns (``expected_label``, ``gold``, ``true_label``…) leak the answer: on a real catalog
of 986 items they lifted accuracy from 39% to 79%; a ``true_label`` column lifted the local model on reviews
from 30% to 80%. Every task's items keep them apart (``offered`` / ``withheld``) by ``LABEL_COLUMN_RULE`` plus
the words that name the task's own labels (``Task.label_words``); ``--fields a,b`` names exactly the columns to
offer instead. The dry run lists both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from labnb.errors import UsageError

# The rule, on the column name in snake_case (``goldLabel``, ``True-Label`` → ``gold_label``, ``true_label``):
# withheld when any word is one of ``words`` (or of the task's own), the whole name is one of ``names``, or it
# starts with a prefix.
LABEL_COLUMN_RULE = {
    "words": ("label", "labels", "class", "classes", "target", "targets", "gold", "truth", "expected",
              "annotation", "annotations"),
    "names": ("y", "answer", "answers", "ground_truth"),
    "prefixes": ("gold", "expected", "label", "target", "true_"),
}


def snake(name: str) -> str:
    """``name`` lower-cased with word breaks as ``_`` (camelCase, spaces and punctuation)."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def is_label_column(name: str, task_words: Iterable[str] = ()) -> bool:
    """Whether ``name`` looks like a column that holds labels (``LABEL_COLUMN_RULE`` and the task's words)."""
    key = snake(name)
    words = {*LABEL_COLUMN_RULE["words"], *task_words}
    return (key in LABEL_COLUMN_RULE["names"] or key in words or any(w in words for w in key.split("_"))
            or key.startswith(LABEL_COLUMN_RULE["prefixes"]))


def parse_fields(text: str | None) -> tuple[str, ...] | None:
    """``--fields a,b`` as a tuple of names (``None``: the default rule; ``""``: no extra column)."""
    if text is None:
        return None
    return tuple(dict.fromkeys(f.strip() for f in text.split(",") if f.strip()))


def check_fields(chosen: Sequence[str] | None, columns: Iterable[str], never: Iterable[str], source: str) -> None:
    """Refuse ``--fields`` naming a column the input lacks, or one that can never be offered (gold, ids)."""
    if chosen is None:
        return
    present, never = set(columns), set(never)
    for name in chosen:
        if name in never:
            raise UsageError(f"--fields: '{name}' is never offered to the model (it is an id or a gold label)")
        if name not in present:
            shown = ", ".join(sorted(present - never))[:200] or "none"
            raise UsageError(f"--fields: {source} has no column '{name}' (extra columns: {shown})")


def split_fields(fields: dict[str, str], chosen: Sequence[str] | None,
                 task_words: Iterable[str] = ()) -> tuple[dict[str, str], dict[str, str]]:
    """``(offered, withheld)``: with ``chosen``, exactly those; without, every column but the label-like ones."""
    if chosen is not None:
        offered = {k: fields[k] for k in chosen if k in fields}
    else:
        offered = {k: v for k, v in fields.items() if not is_label_column(k, task_words)}
    return offered, {k: v for k, v in fields.items() if k not in offered}


def column_split(items: Sequence[Any]) -> tuple[list[str], list[str]]:
    """``(offered, withheld)`` extra column names over all items (each with ``extra`` and ``withheld``), in
    first-seen order (for --dry-run and ``run_config.json``)."""
    offered = dict.fromkeys(k for item in items for k in getattr(item, "extra", {}))
    withheld = dict.fromkeys(k for item in items for k in getattr(item, "withheld", {}) if k not in offered)
    return list(offered), list(withheld)


def columns_note(items: Sequence[Any]) -> str:
    """The dry run's line on which input columns the model sees."""
    offered, withheld = column_split(items)
    return (f"columns offered to the model: {', '.join(offered) or 'none'}; withheld (kept in the outputs): "
            f"{', '.join(withheld) or 'none'}")
