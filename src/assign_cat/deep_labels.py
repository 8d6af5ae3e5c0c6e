"""assign-cat on a taxonomy of any depth: numbered nodes, candidate shortlists, deep rows and metrics.

The ``AssignCat`` task delegates here when ``--taxonomy`` is Google's or Shopify's file. Nodes are
numbered 1..N among the assignable ones, in file order; with more than ``--candidates K`` of them,
each product's K nearest nodes (local embedding model) are its candidates, and a request offers
exactly the union of its products' candidates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from assign_cat.candidates import CandidateFinder, Candidates, file_sha256
from assign_cat.products import Product
from assign_cat.taxonomy import SEPARATOR, DeepTaxonomy, Node
from labnb.store.jsonio import read_jsonl
from labnb.store.results import ItemResult
from labnb.task import Choice, JsonValue, Ranker

if TYPE_CHECKING:  # pandas is imported when a run is scored
    import pandas as pd

DEEP_COLUMNS = ("path", "depth")


class DeepLabels:
    """The labels of a deep run: ``taxonomy`` (root and leaves-only applied) read from ``path``."""

    def __init__(self, taxonomy: DeepTaxonomy, path: Path, k: int) -> None:
        self.taxonomy = taxonomy
        self.path = path
        self.k = k
        self.nodes: dict[int, Node] = dict(enumerate(taxonomy.assignable, start=1))
        self.code_of = {node.id: code for code, node in self.nodes.items()}
        self.shortlists: dict[str, Candidates] = {}
        self._finder: CandidateFinder | None = None

    @property
    def retrieves(self) -> bool:
        """Whether requests offer shortlists: only with more assignable nodes than K."""
        return len(self.nodes) > self.k

    def finder(self) -> CandidateFinder:
        """The node index (the model loads, the taxonomy is embedded or read from the cache), once."""
        if self._finder is None:
            from labnb.local.embedder import load_embedder

            self._finder = CandidateFinder(load_embedder(), self.taxonomy, file_sha256(self.path))
        return self._finder

    def prepare(self, products: Sequence[Product]) -> None:
        """Shortlist every product now, when requests will offer shortlists (all at once: one encode)."""
        if self.retrieves and products:
            self.shortlists = self.finder().shortlist(products, self.k)

    # --- choices and requests -------------------------------------------------------------------
    @cached_property
    def choices(self) -> dict[int, Choice]:
        out = {}
        for code, node in self.nodes.items():
            top = self.taxonomy.top_level(node)
            out[code] = Choice(code, node.id, node.path_text, node.description, {
                "category": top.file_id, "subcategory": node.id, "path": node.path_text, "depth": str(node.depth)})
        return out

    def candidates(self, products: Sequence[Product]) -> dict[int, Node] | None:
        """The union of the products' shortlists, by number; None when every request offers every node."""
        if not self.retrieves:
            return None
        codes = sorted({self.code_of[i] for p in products for i in self.shortlists[p.product_id].node_ids})
        return {code: self.nodes[code] for code in codes}

    def offered(self, products: Sequence[Product]) -> dict[int, Choice] | None:
        codes = self.candidates(products)
        return None if codes is None else {code: self.choices[code] for code in codes}

    def request_record(self, products: Sequence[Product]) -> dict[str, JsonValue]:
        if not self.retrieves:
            return {}
        return {"candidates": {p.product_id: list(self.shortlists[p.product_id].node_ids) for p in products}}

    def listing(self, codes: Mapping[int, Node]) -> str:
        """One ``  k: path`` line per node, in number order, its path below the root (descriptions, where the
        file has them, after " - "): the prompt's ``labels`` or a request's ``candidates``."""
        depth = self.taxonomy.root_depth
        return "\n".join(f"  {k}: {SEPARATOR.join(node.path[depth:])}"
                         + (f" - {node.description}" if node.description else "") for k, node in sorted(codes.items()))

    def whole(self) -> DeepLabels:
        """These labels with every node offered in every request (retrieval off)."""
        return DeepLabels(self.taxonomy, self.path, len(self.nodes))

    def ranker(self) -> Ranker:
        """The local model's ranking: every assignable node, on the same scoring as retrieval."""
        finder = self.finder()
        return Ranker(finder.index, finder.allowed, list(self.nodes))

    def gold_choice(self, product: Product) -> str | None:
        """The id of the product's gold node (``--examples``), or None when it names no assignable node."""
        gold = self.gold(product)
        return gold.id if gold is not None and gold.id in self.code_of else None

    # --- gold, rows and metrics -----------------------------------------------------------------
    def gold(self, product: Product) -> Node | None:
        """The gold node: ``expected_subcategory`` (else ``expected_category``) as an id or a full path."""
        text = product.expected_subcategory or product.expected_category
        return self.taxonomy.find(text) if text else None

    def gold_warning(self, products: Sequence[Product]) -> str | None:
        unresolved = [p for p in products if p.has_gold and self.gold(p) is None]
        outside = [p for p in products if (g := self.gold(p)) is not None and g.id not in self.code_of]
        parts = []
        if unresolved:
            first = unresolved[0]
            parts.append(f"{len(unresolved)} products have gold labels that name no node of the taxonomy, e.g. "
                         f"{first.product_id}: '{first.expected_subcategory or first.expected_category}'")
        if outside:
            parts.append(f"{len(outside)} products have gold nodes that cannot be assigned (outside the root, "
                         f"or not a leaf with --leaves-only), e.g. {outside[0].product_id}")
        return "; ".join(parts) + "; they will be scored wrong" if parts else None

    def row(self, product: Product, result: ItemResult, with_gold: bool) -> dict[str, str]:
        answer = result.answer
        row: dict[str, str] = {"product_id": product.product_id, "title": product.title,
                               "category": answer.get("category", ""), "subcategory": answer.get("subcategory", ""),
                               "path": answer.get("path", ""), "depth": answer.get("depth", "")}
        if with_gold:
            gold = self.gold(product)
            if gold is None:  # kept as given: it names no node
                row["expected_category"], row["expected_subcategory"] = "", product.expected_subcategory
            else:
                top = gold.lineage[self.taxonomy.root_depth] if self.taxonomy.within(gold) else gold.lineage[0]
                row["expected_category"], row["expected_subcategory"] = top, gold.id
        return row

    def write_metrics(self, run_dir: Path) -> dict[str, JsonValue]:
        """The two-level scores on (top-level node, node) plus the deep ones; metrics.json and the
        category-level confusion matrix."""
        import pandas as pd

        outputs = Path(run_dir) / "outputs"
        rows = pd.read_csv(outputs / "classifications.csv", dtype=str, keep_default_na=False)
        # Only requests that offered shortlists record them (the local model ranks every node).
        shortlists = recorded_candidates(outputs / "calls.jsonl") if self.retrieves else {}
        metrics, matrix = self.score(rows, shortlists)
        (outputs / "metrics.json").write_text(json.dumps(metrics, sort_keys=True, indent=2) + "\n", encoding="utf-8")
        matrix.to_csv(outputs / "confusion_matrix.csv")
        return metrics

    def score(self, rows: pd.DataFrame, shortlists: dict[str, list[str]] | None = None) -> tuple[dict[str, JsonValue],
                                                                                             pd.DataFrame]:
        """The metrics and the category-level confusion matrix of rows (a ``weight`` column: summed counts)."""
        from assign_cat.deep_metrics import deep_metrics
        from assign_cat.metrics import compute_metrics, confusion_matrix

        metrics = compute_metrics(rows)
        metrics.update(deep_metrics(rows, self.taxonomy, candidates=shortlists or None, k=self.k))
        metrics["taxonomy"] = {"format": self.taxonomy.format, "root": self.taxonomy.root.path_text
                               if self.taxonomy.root else None, "leaves_only": self.taxonomy.leaves_only,
                               "assignable_nodes": len(self.nodes), "candidates": self.k if self.retrieves else None}
        return metrics, confusion_matrix(rows)


def recorded_candidates(calls_path: Path) -> dict[str, list[str]]:
    """Each product's shortlist as its calls recorded it in calls.jsonl (the last call wins)."""
    out: dict[str, list[str]] = {}
    for call in read_jsonl(calls_path):
        request = call.get("request")
        if isinstance(request, dict):
            out.update(request.get("candidates") or {})
    return out
