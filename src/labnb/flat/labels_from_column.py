"""``--labels-from-column label``: a flat label set read from the input's own label column (and the examples').

The labels are the distinct non-empty values, in first-seen order over the input then the examples;
ids are slugged from them, names kept. The set is written as a labels YAML (read back by
``load_labels`` like any other) and snapshotted as ``inputs/labels.yaml``; the column is the gold.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import yaml

from labnb.errors import UsageError
from labnb.flat.items import TextItem
from labnb.flat.labels import LabelSet
from labnb.inputs.labelspace import column_value, distinct, find_column, require_columns, slug, slug_ids
from labnb.task import Label

OPTION = "--labels-from-column"


def gold_from_column(items: Sequence[TextItem], column: str, source: str | Path,
                     gold_column: str | None = None) -> list[TextItem]:
    """The items with ``column`` as their gold label, and no longer among their other fields (``gold_column``:
    the column the items were read with as gold; naming it, the items are already labelled)."""
    if gold_column is not None and column.casefold() == gold_column.casefold():
        if not any(item.expected_label for item in items):
            raise UsageError(f"{OPTION}: {source} has no labels in column '{column}'")
        return list(items)
    require_columns([column], {k for item in items for k in (*item.extra, *item.withheld)}, OPTION, source)
    out = []
    for item in items:
        fields = {**item.extra, **item.withheld}
        key = find_column(column, fields)
        out.append(replace(item, expected_label=column_value(fields, column),
                           extra={k: v for k, v in item.extra.items() if k != key},
                           withheld={k: v for k, v in item.withheld.items() if k != key}))
    return out


def label_set_from(values: Iterable[str], name: str) -> LabelSet:
    """Every distinct non-empty value of ``values`` (gold labels, read once: a stream of millions is fine) as a
    label set called ``name`` (slugged)."""
    names = [name for (name,) in distinct((value,) for value in values)]
    if not names:
        raise UsageError(f"{OPTION}: the label column is empty: no label to build a label set of")
    labels = tuple(Label(label_id, label_name, "") for label_name, label_id in slug_ids(names).items())
    version = hashlib.sha256(repr(names).encode("utf-8")).hexdigest()[:12]
    return LabelSet(slug(name) or "labels", version, "", labels)


def label_set_yaml(labels: LabelSet, description: str) -> bytes:
    """``labels`` as a labels YAML file (what ``load_labels`` reads back)."""
    data = {"name": labels.name, "version": labels.version, "description": description,
            "labels": [{"id": label.id, "name": label.name} for label in labels.labels]}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000).encode("utf-8")
