"""A taxonomy of any depth: nodes with ids, names and paths, a subtree root, and the assignable nodes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

from labnb.errors import InputError

SEPARATOR = " > "
SHOPIFY_GID = "gid://shopify/TaxonomyCategory/"


@dataclass(frozen=True)
class Node:
    """One node; ``lineage`` holds the ids from the top level down to the node itself."""

    id: str
    name: str
    path: tuple[str, ...]
    lineage: tuple[str, ...]
    description: str = ""
    local_id: str = ""  # the id the file gives it where that is not unique (XML subcategories)
    line: int = 0

    @property
    def parent(self) -> str | None:
        return self.lineage[-2] if len(self.lineage) > 1 else None

    @property
    def depth(self) -> int:
        return len(self.path)

    @property
    def path_text(self) -> str:
        return SEPARATOR.join(self.path)

    @property
    def file_id(self) -> str:
        return self.local_id or self.id


@dataclass(frozen=True)
class DeepTaxonomy:
    """All nodes of a file (in file order), seen through an optional subtree ``root`` and ``leaves_only``."""

    name: str
    version: str
    format: str  # "xml" | "google" | "shopify"
    nodes: tuple[Node, ...]
    root: Node | None = None
    leaves_only: bool = False

    @cached_property
    def by_id(self) -> dict[str, Node]:
        return {n.id: n for n in self.nodes}

    @cached_property
    def by_path(self) -> dict[str, Node]:
        return {n.path_text: n for n in self.nodes}

    @cached_property
    def _parents(self) -> frozenset[str]:
        return frozenset(n.parent for n in self.nodes if n.parent is not None)

    def node(self, node_id: str) -> Node:
        return self.by_id[node_id]

    def is_leaf(self, node: Node) -> bool:
        return node.id not in self._parents

    @property
    def root_depth(self) -> int:
        return self.root.depth if self.root else 0

    def within(self, node: Node) -> bool:
        """Strictly under the root (every node when there is no root)."""
        return self.root is None or (node.depth > self.root.depth and node.lineage[self.root.depth - 1] == self.root.id)

    @cached_property
    def assignable(self) -> tuple[Node, ...]:
        """The nodes a product may be assigned to, in file order."""
        return tuple(n for n in self.nodes if self.within(n) and (not self.leaves_only or self.is_leaf(n)))

    @cached_property
    def max_depth(self) -> int:
        """Levels below the root of the deepest assignable node."""
        return max((n.depth for n in self.assignable), default=self.root_depth) - self.root_depth

    def below_root(self, node: Node) -> tuple[str, ...]:
        """The node's lineage without the root and its ancestors (its whole lineage if it is outside)."""
        return node.lineage[self.root_depth:] if self.within(node) else node.lineage

    def top_level(self, node: Node) -> Node:
        """The node's ancestor (or itself) one level under the root: its ``category``."""
        return self.by_id[node.lineage[self.root_depth]]

    def restrict(self, root: str | None = None, *, leaves_only: bool | None = None) -> DeepTaxonomy:
        """This taxonomy under the node ``root`` (a full path or an id) and/or with ``leaves_only``."""
        changes: dict = {}
        if leaves_only is not None:
            changes["leaves_only"] = leaves_only
        if root:
            node = self.find(root)
            if node is None:
                raise InputError(f"--taxonomy-root '{root}': no such node in taxonomy '{self.name}'")
            if node.id not in self._parents:
                raise InputError(f"--taxonomy-root '{root}': the node has nothing under it")
            changes["root"] = node
        out = dataclasses.replace(self, **changes)
        if not out.assignable:
            raise InputError(f"taxonomy '{self.name}': no assignable node under the chosen root")
        return out

    def find(self, text: str) -> Node | None:
        """The node named by an id or a full path: exact first, then path names case-insensitively."""
        text = text.strip()
        if text in self.by_id:
            return self.by_id[text]
        if self.format == "shopify" and SHOPIFY_GID + text in self.by_id:
            return self.by_id[SHOPIFY_GID + text]  # the short form: "hb-1-9-6"
        path = SEPARATOR.join(part.strip() for part in text.split(">"))
        if path in self.by_path:
            return self.by_path[path]
        return self._folded.get(path.casefold())

    @cached_property
    def _folded(self) -> dict[str, Node]:
        out: dict[str, Node] = {}
        for n in self.nodes:
            out.setdefault(n.path_text.casefold(), n)
        return out
