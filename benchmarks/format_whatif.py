"""Token counts of answer formats, the shipped one against the previous one, for benchmarks/batch_tokens.py.

- shipped: numbered subcategories (`  12: Name`), strict schema with an integer enum ``k``, answers {"n","k"}.
- previous: ids: the format before it, `cat-id: Name` / `  sub-id: Name` lines, string enums ``c`` and ``s``,
  answers {"n","c","s"}; its templates are copied from a run record of that version (inputs/prompt_templates.json).
- positional (not implemented): the shipped prompt, but answers are one subcategory number per product in
  order, {"r":[12,113]}; cheaper output, but a skipped product would shift every later label undetectably.

Every format is counted exactly as ``labnb.run.dryrun.project`` counts the shipped one (same user turns,
chat framing, completion projection and cache assumptions); ``check_shipped`` proves the mirror is faithful.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import mean
from typing import Any

from assign_cat.products import Product
from assign_cat.task import AssignCat
from assign_cat.taxonomy import Taxonomy
from labnb.answers import ANSWER_SHAPE, answer_schema
from labnb.clients.requests import CHAT_FRAMING_TOKENS, batches
from labnb.config import ModelEntry
from labnb.cost import tokens
from labnb.run.dryrun import Projection, priced

PREVIOUS_SYSTEM = """You classify the products of an online shop into a two-level taxonomy.
For each product choose exactly one category id and one subcategory id that belongs to that category. \
Use only ids listed below.

Taxonomy "{name}" (version {version}). Each category line is `category-id: Name - description`; \
its subcategories follow, indented, as `subcategory-id: Name - description`.
{taxonomy}

Answer with JSON only, one entry per product, in the form {answer_shape}, where n is the product's number \
as given, c the category id and s the subcategory id."""
PREVIOUS_SHAPE = '{"r":[{"n":1,"c":"category-id","s":"subcategory-id"}]}'
POSITIONAL_SHAPE = '{"r":[12,113]}'
POSITIONAL_RULE = ("one subcategory number per product, in the order of the products, in the form "
                   f"{POSITIONAL_SHAPE}")
SHIPPED, PREVIOUS, POSITIONAL = "shipped: numbers", "previous: ids", "positional (not implemented)"


@dataclass(frozen=True)
class Format:
    """What a request format costs: its stable prefix (system prompt, schema) and its answer items."""

    name: str
    system: str
    schema: dict[str, Any]
    item_tokens: float  # mean tokens of one product's answer item, trailing comma included
    user: Callable[[Sequence[Product]], str]  # the user turn of a batch (the shipped one, for every format)


def _compact(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _previous_taxonomy(taxonomy: Taxonomy) -> str:
    lines = []
    for cat in taxonomy.categories:
        lines.append(f"{cat.id}: {cat.name}" + (f" - {cat.description}" if cat.description else ""))
        lines.extend(f"  {sub.id}: {sub.name}" + (f" - {sub.description}" if sub.description else "")
                     for sub in cat.subcategories)
    return "\n".join(lines)


def _previous_schema(taxonomy: Taxonomy) -> dict[str, Any]:
    item = {"type": "object", "properties": {
        "n": {"type": "integer"},
        "c": {"type": "string", "enum": [c.id for c in taxonomy.categories]},
        "s": {"type": "string", "enum": [s.id for c in taxonomy.categories for s in c.subcategories]},
    }, "required": ["n", "c", "s"], "additionalProperties": False}
    return {"type": "object", "properties": {"r": {"type": "array", "items": item}}, "required": ["r"],
            "additionalProperties": False}


def _positional_schema(taxonomy: Taxonomy) -> dict[str, Any]:
    item = {"type": "integer", "enum": list(taxonomy.codes)}
    return {"type": "object", "properties": {"r": {"type": "array", "items": item}}, "required": ["r"],
            "additionalProperties": False}


def formats(entry: ModelEntry, taxonomy: Taxonomy) -> list[Format]:
    """The shipped format, the previous one and the positional idea, for ``taxonomy``."""
    def n(text: str) -> int:
        return tokens.count(entry, text)

    codes = taxonomy.codes
    task = AssignCat(taxonomy)
    shipped = task.render_system()
    previous = PREVIOUS_SYSTEM.format(name=taxonomy.name, version=taxonomy.version,
                                      taxonomy=_previous_taxonomy(taxonomy), answer_shape=PREVIOUS_SHAPE)
    positional = shipped.replace(f"one entry per product, in the form {ANSWER_SHAPE}, where n is the "
                                 "product's number as given and k the number of its subcategory", POSITIONAL_RULE)
    if positional == shipped:
        raise RuntimeError("src/assign_cat/prompts/assign-cat.yaml changed: update the positional variant in "
                           "format_whatif.py")
    return [
        Format(SHIPPED, shipped, answer_schema(taxonomy.codes),
               mean(n(_compact({"n": 10, "k": k}) + ",") for k in codes), task.render_user),
        Format(PREVIOUS, previous, _previous_schema(taxonomy),
               mean(n(_compact({"n": 10, "c": c, "s": s}) + ",") for c, s in codes.values()), task.render_user),
        Format(POSITIONAL, positional, _positional_schema(taxonomy), mean(n(f"{k},") for k in codes),
               task.render_user),
    ]


def project_format(entry: ModelEntry, fmt: Format, products: Sequence[Product], size: int,
                   concurrency: int) -> Projection:
    """``labnb.run.dryrun.project`` for an arbitrary format (same formula, line for line)."""
    def n(text: str) -> int:
        return tokens.count(entry, text)

    groups = batches(products, size)
    prefix = n(fmt.system) + n(_compact(fmt.schema))
    inputs = sum(prefix + n(fmt.user(group)) + CHAT_FRAMING_TOKENS for group in groups)
    outputs = round(sum(3 + fmt.item_tokens * len(group) for group in groups))
    return priced(entry, len(groups), inputs, outputs, prefix, concurrency)


def check_shipped(mirror: Projection, dry_run: Projection) -> None:
    """The shipped format counted here must equal what ``--dry-run`` projects, or the comparison is void."""
    if mirror != dry_run:
        raise RuntimeError(f"format_whatif disagrees with labnb.run.dryrun.project:\n{mirror}\n{dry_run}")
