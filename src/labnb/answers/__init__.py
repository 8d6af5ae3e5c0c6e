"""The answer format every task shares: ``{"r":[{"n":<item number>,"k":<choice number>}]}``.

Items are numbered from 1 in each request and choices by their code, so an answer names a
valid choice by construction and costs few output tokens; the parser maps numbers back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

ANSWER_SHAPE = '{"r":[{"n":1,"k":12}]}'
ANSWER_SHAPE_EXPLAIN = '{"r":[{"n":1,"k":12,"why":"one short reason"}]}'


def answer_shape(explain: bool = False) -> str:
    return ANSWER_SHAPE_EXPLAIN if explain else ANSWER_SHAPE


def answer_schema(codes: Iterable[int], *, explain: bool = False) -> dict[str, Any]:
    """A strict JSON schema whose enum is the offered choice numbers, so labels cannot be invented."""
    item: dict[str, Any] = {
        "type": "object",
        "properties": {
            "n": {"type": "integer"},
            "k": {"type": "integer", "enum": list(codes)},
        },
        "required": ["n", "k"],
        "additionalProperties": False,
    }
    if explain:
        item["properties"]["why"] = {"type": "string"}
        item["required"].append("why")
    return {
        "type": "object",
        "properties": {"r": {"type": "array", "items": item}},
        "required": ["r"],
        "additionalProperties": False,
    }


def prompt_record(system: str, codes: Mapping[int, Any], *, explain: bool, **templates: Any) -> dict[str, Any]:
    """What ``inputs/prompt_templates.json`` holds: a task's ``templates``, the rendered system prompt and
    its sha256, the answer shape and schema, and what each choice number stands for (``codes``)."""
    return {
        **templates,
        "answer_shape": answer_shape(explain),
        "rendered_system_prompt": system,
        "rendered_system_prompt_sha256": sha256_text(system),
        "answer_schema": answer_schema(codes, explain=explain),
        "label_codes": {str(k): value for k, value in codes.items()},
        "explain": explain,
    }


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def one_line(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
