"""assign-cat on Google's or Shopify's taxonomy, any depth: products in, a node (with its path) out.

Chosen by ``AssignCat.for_inputs`` when the taxonomy file is not the two-level XML; requests
list each batch's candidate nodes when there are more assignable nodes than ``--candidates``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from assign_cat.deep_labels import DEEP_COLUMNS, DeepLabels
from assign_cat.inputs import PROMPTS, AssignCatOptions, ProductInputs
from assign_cat.products import Product
from assign_cat.taxonomy import load_deep
from labnb.parts.prompt_file import PromptFromFile
from labnb.prompting import answer_format_text
from labnb.store.results import ItemResult
from labnb.task import Choice, JsonValue, Ranker

if TYPE_CHECKING:  # pandas is imported when a run is scored
    import pandas as pd


class DeepAssignCat(PromptFromFile[Product, AssignCatOptions], ProductInputs):
    """Catalog products into any node of Google's or Shopify's taxonomy (candidate shortlists when large)."""

    snapshot_name = "inputs/taxonomy.txt"
    details = DEEP_COLUMNS
    prompt_file = PROMPTS / "assign-cat-deep.yaml"
    prompt_extra_variables = ("taxonomy", "candidates")

    def __init__(self) -> None:
        super().__init__()
        self.deep: DeepLabels | None = None

    def use_taxonomy(self, path: Path, options: AssignCatOptions) -> None:
        tree = load_deep(path).restrict(options.taxonomy_root, leaves_only=options.leaves_only)
        self.taxonomy_path, self.deep = path, DeepLabels(tree, path, options.candidates)

    @property
    def labels(self) -> DeepLabels:
        if self.deep is None:
            raise RuntimeError("the taxonomy is loaded by load() or load_snapshot() first")
        return self.deep

    def ready(self, products: list[Product]) -> list[Product]:
        self.labels.prepare(products)
        return products

    def gold_choice(self, item: Product) -> str | None:
        return self.labels.gold_choice(item)

    def gold_warning(self, items: Sequence[Product]) -> str | None:
        return self.labels.gold_warning(items)

    def describe(self) -> str:
        deep = self.labels
        shortlist = f"{deep.k} candidates per {self.item_noun}" if deep.retrieves else "all offered"
        return f"taxonomy '{deep.taxonomy.name}' ({len(deep.nodes):,} assignable nodes; {shortlist})"

    def choices(self) -> dict[int, Choice]:
        return self.labels.choices

    def offered(self, items: Sequence[Product]) -> dict[int, Choice] | None:
        return self.labels.offered(items)

    def request_record(self, items: Sequence[Product]) -> dict[str, JsonValue]:
        return self.labels.request_record(items)

    def ranker(self) -> Ranker | None:
        return self.labels.ranker()

    def whole(self) -> DeepAssignCat | None:
        if not self.labels.retrieves:
            return None
        whole = copy.copy(self)
        whole.deep = self.labels.whole()
        return whole

    def answer_text(self, row: dict[str, str]) -> str:
        return row.get("path") or row.get("subcategory", "")

    # --- the prompt: assign_cat/prompts/assign-cat-deep.yaml (labnb.parts.prompt_file) ---
    def prompt_variables(self, *, explain: bool = False) -> dict[str, JsonValue]:
        """``labels``: every node when every request offers every node (else empty: requests list their own);
        ``taxonomy``: its name, version and root; ``answer_format`` answers with a category's number."""
        deep = self.labels
        tax = deep.taxonomy
        return {**super().prompt_variables(explain=explain),
                "labels": "" if deep.retrieves else deep.listing(deep.nodes),
                "taxonomy": {"name": tax.name, "version": tax.version or "unstated",
                             "root": tax.root.path_text if tax.root else ""},
                "answer_format": answer_format_text(self.item_noun, "category", explain=explain)}

    def batch_variables(self, items: Sequence[Product]) -> dict[str, JsonValue]:
        """``candidates``: the nodes this request offers (its products' shortlists), else empty."""
        codes = self.labels.candidates(items)
        return {"candidates": "" if codes is None else self.labels.listing(codes)}

    def prompt_file_refusal(self) -> str | None:
        # an example's node is often outside the candidates a request offers
        return ("--prompt and --examples with an LLM need the two-level XML taxonomy; on Google's or Shopify's "
                "taxonomy only --model local takes --examples (it learns from them)")

    def prompt_templates(self, *, explain: bool = False) -> dict[str, JsonValue]:
        deep = self.labels
        return {**super().prompt_templates(explain=explain), "candidates": deep.k if deep.retrieves else None}

    def row(self, item: Product, result: ItemResult, with_gold: bool) -> dict[str, str]:
        return self.labels.row(item, result, with_gold)

    def write_metrics(self, run_dir: Path) -> dict[str, JsonValue]:
        return self.labels.write_metrics(run_dir)

    def score(self, rows: pd.DataFrame) -> tuple[dict[str, JsonValue], pd.DataFrame]:
        return self.labels.score(rows)
