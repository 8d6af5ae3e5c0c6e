"""The prompts of classify-text: the label listing (the cached prefix) and the numbered texts of one request.

The system prompt is byte-identical for every call of a run so providers can cache it; only the
numbered text lines change. The answer format is the framework's ``{"r":[{"n":…,"k":…}]}``: ``k``
is the label's number in the listing, from 1 in label-file order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from classify_text.items import TextItem
from classify_text.labels import LabelSet
from labnb.answers import answer_shape, prompt_record

SYSTEM_TEMPLATE = """You classify short texts such as product reviews, support messages or titles with one label of a fixed label set.
For each text choose the one label that fits it best and answer with that label's number. Use only the numbers listed below.

Label set "{name}" (version {version}){description}. Each line is `number: Label name - description`.
{labels}

Answer with JSON only, one entry per text, in the form {answer_shape}, where n is the text's number as given and k the number of its label."""

USER_TEMPLATE = "Label these {count} texts:\n{lines}"
USER_TEMPLATE_ONE = "Label this text:\n{lines}"  # one text: never "these 1 texts"
ITEM_LINE = "{n}. {text}"


def render_labels(labels: LabelSet) -> str:
    """One indented `number: Name - description` line per label."""
    return "\n".join(f"  {k}: {label.name}" + (f" - {label.description}" if label.description else "")
                     for k, label in labels.codes.items())


def render_system(labels: LabelSet, *, explain: bool = False) -> str:
    """The stable prefix of every request of a run."""
    return SYSTEM_TEMPLATE.format(
        name=labels.name, version=labels.version, labels=render_labels(labels),
        description=f": {labels.description.rstrip('.')}" if labels.description else "",
        answer_shape=answer_shape(explain),
    )


def render_user(items: Sequence[TextItem]) -> str:
    """The per-request part: texts numbered from 1 (each already on one line, see ``items``)."""
    lines = "\n".join(ITEM_LINE.format(n=n, text=item.text) for n, item in enumerate(items, start=1))
    return (USER_TEMPLATE_ONE if len(items) == 1 else USER_TEMPLATE).format(count=len(items), lines=lines)


def templates(labels: LabelSet, *, explain: bool = False) -> dict[str, Any]:
    """Everything needed to see (and re-render) the prompts of a run."""
    codes = {k: label.id for k, label in labels.codes.items()}
    return prompt_record(render_system(labels, explain=explain), codes, explain=explain,
                         system_template=SYSTEM_TEMPLATE, user_template=USER_TEMPLATE, item_line_template=ITEM_LINE)
