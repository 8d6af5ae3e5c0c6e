"""Build the chat requests of a run: the same for synchronous calls, dry runs and batch APIs."""

from __future__ import annotations

from collections.abc import Sequence

from assign_cat import prompts
from assign_cat.products import Product
from assign_cat.taxonomy import Taxonomy
from labnb.clients import ChatRequest
from labnb.config import ModelEntry

TOKENS_PER_ANSWER = 40
TOKENS_PER_EXPLAINED_ANSWER = 100
SCHEMA_NAME = "classify_products"
REPAIR_NOTE = (
    "\n\nYour previous answer was not valid: {problem}.\nPrevious answer: {previous}\n"
    "Answer again with JSON only, in exactly the required form."
)


class RequestBuilder:
    """Renders requests; the system prefix and schema are built once and never change within a run."""

    def __init__(self, entry: ModelEntry, taxonomy: Taxonomy, *, explain: bool = False) -> None:
        self.entry = entry
        self.taxonomy = taxonomy
        self.explain = explain
        self.system = prompts.render_system(taxonomy, explain=explain)
        self.schema = prompts.answer_schema(taxonomy, explain=explain)
        self.system_sha256 = prompts.sha256_text(self.system)

    def max_tokens(self, count: int) -> int:
        """The answer budget: the configured one, raised so a large batch is never cut off."""
        per = TOKENS_PER_EXPLAINED_ANSWER if self.explain else TOKENS_PER_ANSWER
        return max(self.entry.max_tokens, per * count + 64)

    def build(self, products: Sequence[Product], note: str = "") -> ChatRequest:
        return ChatRequest(
            system=self.system, user=prompts.render_user(products) + note, schema=self.schema,
            schema_name=SCHEMA_NAME, cache_key=f"assign-cat-{self.system_sha256[:16]}",
            max_tokens=self.max_tokens(len(products)),
        )

    def repair(self, products: Sequence[Product], problem: str, previous: str) -> ChatRequest:
        """The one follow-up that tells the model what was wrong with its answer."""
        return self.build(products, REPAIR_NOTE.format(problem=problem, previous=previous[:2000]))

    def templates(self) -> dict:
        return prompts.templates(self.taxonomy, explain=self.explain)


def batches(products: Sequence[Product], size: int) -> list[list[Product]]:
    """Consecutive groups of ``size`` products, in input order."""
    return [list(products[i:i + size]) for i in range(0, len(products), size)]
