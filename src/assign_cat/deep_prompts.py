"""Prompts for taxonomies of any depth: nodes are numbered full paths, listed in the system prompt when
every request offers all of them, else per request (its products' candidates) before the products."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from assign_cat import prompts
from assign_cat.products import Product
from assign_cat.taxonomy import SEPARATOR, DeepTaxonomy, Node
from labnb.answers import answer_shape, sha256_text

SYSTEM_TEMPLATE = """You classify the products of an online shop into the product taxonomy "{name}" (version {version}).
For each product choose the one category that fits it best and answer with that category's number. {rule}
A category is written as its path from the top level down, names joined by " > ".{root}
{listing}
Answer with JSON only, one entry per product, in the form {answer_shape}, where n is the product's number as given and k the number of its category."""

RULE_LISTED = "Use only the numbers listed below."
RULE_PER_REQUEST = "Each request lists the candidate categories for its products; use only the numbers it lists."
ROOT_NOTE = '\nEvery category is under "{root}"; paths start below it.'
CANDIDATES_HEADING = "Candidate categories:"
CODE_LINE = "  {k}: {path}"


def relative_path(taxonomy: DeepTaxonomy, node: Node) -> str:
    """The node's path below the root (its full path without a root)."""
    return SEPARATOR.join(node.path[taxonomy.root_depth:])


def listing(taxonomy: DeepTaxonomy, codes: Mapping[int, Node]) -> str:
    """One ``  k: path`` line per node, in number order (descriptions, where the file has them, after " - ")."""
    return "\n".join(CODE_LINE.format(k=k, path=relative_path(taxonomy, node))
                     + (f" - {node.description}" if node.description else "") for k, node in sorted(codes.items()))


def render_system(taxonomy: DeepTaxonomy, codes: Mapping[int, Node] | None, *, explain: bool = False) -> str:
    """The stable prefix; ``codes`` None means each request lists its own candidates."""
    return SYSTEM_TEMPLATE.format(
        name=taxonomy.name, version=taxonomy.version or "unstated",
        rule=RULE_LISTED if codes is not None else RULE_PER_REQUEST,
        root=ROOT_NOTE.format(root=taxonomy.root.path_text) if taxonomy.root else "",
        listing=("\n" + listing(taxonomy, codes) + "\n") if codes is not None else "",
        answer_shape=answer_shape(explain),
    )


def render_user(taxonomy: DeepTaxonomy, products: Sequence[Product], candidates: Mapping[int, Node] | None) -> str:
    """The per-request part: the candidates (when each request has its own), then the numbered products."""
    user = prompts.render_user(products)
    if candidates is None:
        return user
    return f"{CANDIDATES_HEADING}\n{listing(taxonomy, candidates)}\n\n{user}"


def templates(taxonomy: DeepTaxonomy, system: str, schema: dict[str, Any], *, explain: bool = False,
              per_request: bool, k: int) -> dict[str, Any]:
    """Everything needed to see (and re-render) the prompts of a deep run."""
    return {
        "system_template": SYSTEM_TEMPLATE,
        "user_template": prompts.USER_TEMPLATE,
        "product_line_template": prompts.PRODUCT_LINE,
        "candidates_heading": CANDIDATES_HEADING if per_request else "",
        "code_line_template": CODE_LINE,
        "answer_shape": answer_shape(explain),
        "field_chars": prompts.FIELD_CHARS,
        "rendered_system_prompt": system,
        "rendered_system_prompt_sha256": sha256_text(system),
        "answer_schema": schema,
        "candidates": k if per_request else None,
        "explain": explain,
    }
