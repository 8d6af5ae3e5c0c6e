"""Token counts of hypothetical, cheaper request formats (not implemented), for benchmarks/batch_tokens.py.

- shipped: the CLI's prompt, strict schema with category and subcategory enums, answers {"n","c","s"}.
- no enums: the same prompt and answers, the schema without enums (labels still checked against the taxonomy).
- pair numbers: every subcategory line carries a number, the answer is {"r":[[n, pair number], ...]}.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from assign_cat import prompts
from assign_cat.dryrun import CHAT_FRAMING_TOKENS, OPENAI_MIN_CACHE_TOKENS
from assign_cat.products import Product
from assign_cat.requests import batches
from assign_cat.taxonomy import Taxonomy
from labnb import tokens
from labnb.config import ModelEntry
from labnb.usage import Usage, price

PAIR_SYSTEM = """You classify the products of an online shop into a two-level taxonomy.
For each product choose exactly one subcategory number from the list below.

Taxonomy "{name}" (version {version}). \
Category names are followed by their subcategories, indented, as `number: Name`.
{taxonomy}

Answer with JSON only, one pair per product, in the form {{"r":[[1,17]]}}: \
the product's number as given, then the subcategory number."""
PAIR_SCHEMA = {"type": "object", "properties": {"r": {"type": "array", "items": {
    "type": "array", "items": {"type": "integer"}}}}, "required": ["r"], "additionalProperties": False}


@dataclass(frozen=True)
class Variant:
    name: str
    prompt_tokens: int
    completion_tokens: int
    prefix_tokens: int
    requests: int
    cost_uncached: float
    cost_cached: float


def _compact(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _no_enums(schema: dict) -> dict:
    schema = json.loads(json.dumps(schema))
    for key in ("c", "s"):
        schema["properties"]["r"]["items"]["properties"][key].pop("enum")
    return schema


def _pair_system(taxonomy: Taxonomy) -> str:
    lines, number = [], 0
    for cat in taxonomy.categories:
        lines.append(cat.name)
        for sub in cat.subcategories:
            number += 1
            lines.append(f"  {number}: {sub.name}")
    return PAIR_SYSTEM.format(name=taxonomy.name, version=taxonomy.version, taxonomy="\n".join(lines))


def variants(entry: ModelEntry, taxonomy: Taxonomy, products: Sequence[Product], size: int,
             concurrency: int) -> list[Variant]:
    """The three formats at batch size ``size``; answers pick pairs round-robin (the label does not matter here)."""
    def n(text: str) -> int:
        return tokens.count(entry, text)

    pairs = [(c.id, s.id) for c in taxonomy.categories for s in c.subcategories]
    groups = batches(products, size)
    users = sum(n(prompts.render_user(group)) + CHAT_FRAMING_TOKENS for group in groups)
    system, schema = prompts.render_system(taxonomy), prompts.answer_schema(taxonomy)
    named = sum(n(_compact({"r": [{"n": i, "c": pairs[(k + i) % len(pairs)][0], "s": pairs[(k + i) % len(pairs)][1]}
                                  for i in range(1, len(g) + 1)]})) for k, g in enumerate(groups))
    numbered = sum(n(_compact({"r": [[i, (k + i) % len(pairs) + 1] for i in range(1, len(g) + 1)]}))
                   for k, g in enumerate(groups))
    specs = [("shipped", n(system) + n(_compact(schema)), named),
             ("no enums in the schema", n(system) + n(_compact(_no_enums(schema))), named),
             ("pair numbers, no enums", n(_pair_system(taxonomy)) + n(_compact(PAIR_SCHEMA)), numbered)]
    out = []
    for name, prefix, completion in specs:
        prompt = prefix * len(groups) + users
        first_wave = min(concurrency, len(groups))
        cached = prefix * (len(groups) - first_wave) if prefix >= OPENAI_MIN_CACHE_TOKENS else 0
        out.append(Variant(name, prompt, completion, prefix, len(groups),
                           price(Usage(prompt, completion), entry.pricing).total,
                           price(Usage(prompt, completion, cached), entry.pricing).total))
    return out
