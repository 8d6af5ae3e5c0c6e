"""Build the chat requests of a run: the same for synchronous calls, dry runs and batch APIs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from labnb.answers import answer_schema, sha256_text
from labnb.clients import ChatRequest
from labnb.config import ModelEntry
from labnb.task import Item, Task

T = TypeVar("T")
TOKENS_PER_ANSWER = 40
TOKENS_PER_EXPLAINED_ANSWER = 100
REPAIR_NOTE = (
    "\n\nYour previous answer was not valid: {problem}.\nPrevious answer: {previous}\n"
    "Answer again with JSON only, in exactly the required form."
)


class RequestBuilder:
    """Renders requests; the system prefix and schema are built once and never change within a run."""

    def __init__(self, entry: ModelEntry, task: Task, *, explain: bool = False) -> None:
        self.entry = entry
        self.task = task
        self.explain = explain
        self.system = task.render_system(explain=explain)
        self.schema = answer_schema(task.choices(), explain=explain)
        self.system_sha256 = sha256_text(self.system)
        self.schema_name = f"classify_{task.items_noun}"

    def max_tokens(self, count: int) -> int:
        """The answer budget: the configured one, raised so a large batch is never cut off."""
        per = TOKENS_PER_EXPLAINED_ANSWER if self.explain else TOKENS_PER_ANSWER
        return max(self.entry.max_tokens, per * count + 64)

    def build(self, items: Sequence[Item], note: str = "") -> ChatRequest:
        return ChatRequest(
            system=self.system, user=self.task.render_user(items) + note, schema=self.schema,
            schema_name=self.schema_name, cache_key=f"{self.task.name}-{self.system_sha256[:16]}",
            max_tokens=self.max_tokens(len(items)),
        )

    def repair(self, items: Sequence[Item], problem: str, previous: str) -> ChatRequest:
        """The one follow-up that tells the model what was wrong with its answer."""
        return self.build(items, REPAIR_NOTE.format(problem=problem, previous=previous[:2000]))

    def templates(self) -> dict:
        return self.task.prompt_templates(explain=self.explain)


def batches(items: Sequence[T], size: int) -> list[list[T]]:
    """Consecutive groups of ``size`` items, in input order."""
    return [list(items[i:i + size]) for i in range(0, len(items), size)]
