"""Candidate nodes per product: the K assignable nodes of a deep taxonomy nearest to it (labnb.local.retrieval)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assign_cat.products import Product
from assign_cat.taxonomy import DeepTaxonomy, Node
from labnb.classify.similarity import item_texts
from labnb.local.embedder import Embedder
from labnb.local.retrieval import RetrievalIndex

DEFAULT_CANDIDATES = 30


def node_text(node: Node) -> str:
    """A node's own text: its name, and its description when the file has one. It is matched on its full
    path through its ancestors' texts (``labnb.local.retrieval`` context): one embedding of the whole path
    string lets the shared top levels drown the name (recall@30 12.5% against 55.4% on the sports sample)."""
    return f"{node.name}: {node.description}" if node.description else node.name


def product_text(product: Product) -> str:
    """What a product is matched on: title, description and its other text fields (brand, …)."""
    return item_texts(product)["full"]


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class Candidates:
    """One product's shortlist: node ids, best first, and their cosine similarities."""

    node_ids: tuple[str, ...]
    scores: tuple[float, ...]


class CandidateFinder:
    """Every node of ``taxonomy`` embedded once (cached on disk by the file's sha256 and the model);
    shortlists are drawn from the assignable nodes only, so never from outside the root."""

    def __init__(self, embedder: Embedder, taxonomy: DeepTaxonomy, source_sha256: str, *,
                 cache_dir: Path | None = None) -> None:
        self.taxonomy = taxonomy
        position = {n.id: i for i, n in enumerate(taxonomy.nodes)}
        ancestors = [[position[a] for a in n.lineage[:-1]] for n in taxonomy.nodes]
        self.index = RetrievalIndex.build(embedder, [node_text(n) for n in taxonomy.nodes], context=ancestors,
                                       source_key=f"taxonomy-sha256={source_sha256}", cache_dir=cache_dir)
        self.allowed = [position[n.id] for n in taxonomy.assignable]  # index rows of the assignable nodes, in order

    def needed(self, k: int) -> bool:
        """Retrieval is used only when there are more assignable nodes than ``k``."""
        return len(self.allowed) > k

    def shortlist(self, products: Sequence[Product], k: int = DEFAULT_CANDIDATES) -> dict[str, Candidates]:
        """product id → its ``k`` nearest assignable nodes."""
        found = self.index.shortlist([product_text(p) for p in products], k, self.allowed)
        nodes = self.taxonomy.nodes
        return {p.product_id: Candidates(tuple(nodes[i].id for i in s.indices), s.scores)
                for p, s in zip(products, found)}
