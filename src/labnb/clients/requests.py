"""Build the chat requests of a run: the same for synchronous calls, dry runs and batch APIs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from labnb.answers import answer_schema, sha256_text
from labnb.clients import ChatRequest
from labnb.config import ModelEntry
from labnb.cost import tokens
from labnb.task import Item, Task

T = TypeVar("T")
TOKENS_PER_ANSWER = 40
CHAT_FRAMING_TOKENS = 9  # two messages (3 each) and the reply priming (3), per OpenAI's counting guide
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
        self.prompting = task.prompting  # a prompt file and examples, or None: the task's built-in prompt
        self.system = (self.prompting.system(task, explain=explain) if self.prompting
                       else task.render_system(explain=explain))
        self.schema = answer_schema(task.choices(), explain=explain)
        self.system_sha256 = sha256_text(self.system)
        self.schema_name = f"classify_{task.items_noun}"
        # OpenAI's answer-token probabilities give each row a confidence; compatible servers may reject the field.
        self.logprobs = entry.provider == "openai" and not entry.base_url
        self._prefix_tokens: int | None = None
        self._rough_prefix: int | None = None

    def count(self, text: str) -> int:
        """Tokens of ``text`` for the run's model: exact for OpenAI models, an estimate otherwise."""
        return tokens.count(self.entry, text)

    @property
    def subsets(self) -> bool:
        """Whether requests offer subsets of the choices (each with its own schema enum)."""
        return self.task.offered([]) is not None

    def prefix_tokens(self) -> int:
        """Tokens of what every request repeats: the system prefix and, unless requests offer subsets of the
        choices, the answer schema (counted once)."""
        if self._prefix_tokens is None:
            schema = 0 if self.subsets else self._schema_tokens(self.schema)
            self._prefix_tokens = self.count(self.system) + schema
        return self._prefix_tokens

    def input_tokens(self, items: Sequence[Item]) -> int:
        """Input tokens of the request for ``items``, counted as the dry run counts them (used live by budgets)."""
        return self._tokens(self.schema_for(items), self.user(items), exact=True)

    def rough_input_tokens(self, items: Sequence[Item]) -> int:
        """``input_tokens`` estimated from UTF-8 bytes (see ``tokens.rough``), without loading a tokenizer."""
        return self._tokens(self.schema_for(items), self.user(items), exact=False)

    def request_tokens(self, request: ChatRequest, *, exact: bool = True) -> int:
        """Input tokens of ``request`` as built (a repair's note included), counted or (not ``exact``) estimated."""
        return self._tokens(request.schema, request.user, exact=exact)

    def _tokens(self, schema: dict, user: str, *, exact: bool) -> int:
        if exact:
            own = self._schema_tokens(schema) if self.subsets else 0
            return self.prefix_tokens() + own + self.count(user) + CHAT_FRAMING_TOKENS
        if self._rough_prefix is None:
            whole = 0 if self.subsets else tokens.rough(json.dumps(self.schema, separators=(",", ":")))
            self._rough_prefix = tokens.rough(self.system) + whole
        own = tokens.rough(json.dumps(schema, separators=(",", ":"))) if self.subsets else 0
        return self._rough_prefix + own + tokens.rough(user) + CHAT_FRAMING_TOKENS

    def _schema_tokens(self, schema: dict) -> int:
        return self.count(json.dumps(schema, separators=(",", ":")))

    def max_tokens(self, count: int) -> int:
        """The answer budget: the configured one, raised so a large batch is never cut off."""
        per = TOKENS_PER_EXPLAINED_ANSWER if self.explain else TOKENS_PER_ANSWER
        return max(self.entry.max_tokens, per * count + 64)

    def schema_for(self, items: Sequence[Item]) -> dict:
        """The answer schema of a request for ``items``: its enum holds the numbers the request offers."""
        offered = self.task.offered(items)
        return self.schema if offered is None else answer_schema(offered, explain=self.explain)

    def user(self, items: Sequence[Item]) -> str:
        if self.prompting:
            return self.prompting.user(self.task, items, explain=self.explain)
        return self.task.render_user(items)

    def example_ids(self, items: Sequence[Item]) -> list[str]:
        """The ids of the examples the request for ``items`` shows (recorded per call)."""
        return self.prompting.example_ids(items) if self.prompting else []

    def build(self, items: Sequence[Item], note: str = "") -> ChatRequest:
        return ChatRequest(
            system=self.system, user=self.user(items) + note, schema=self.schema_for(items),
            schema_name=self.schema_name, cache_key=f"{self.task.name}-{self.system_sha256[:16]}",
            max_tokens=self.max_tokens(len(items)), logprobs=self.logprobs,
        )

    def record(self, request: ChatRequest, items: Sequence[Item]) -> dict:
        """What calls.jsonl keeps of a request (the system prompt by its hash; it never changes in a run)."""
        return {"system_sha256": self.system_sha256, "user": request.user, "max_tokens": request.max_tokens,
                **self.task.request_record(items)}

    def repair(self, items: Sequence[Item], problem: str, previous: str) -> ChatRequest:
        """The one follow-up that tells the model what was wrong with its answer."""
        return self.build(items, REPAIR_NOTE.format(problem=problem, previous=previous[:2000]))

    def templates(self) -> dict:
        recorded = self.task.prompt_templates(explain=self.explain)
        return {**recorded, **self.prompting.record(self.system)} if self.prompting else recorded


def first_request_text(plan: Any) -> str:
    """``--dry-run --show-prompt``: the first request of the run, exactly as rendered."""
    import json

    builder = RequestBuilder(plan.entry, plan.task, explain=plan.options.explain)
    request = builder.build(plan.items[: plan.options.batch_size])
    schema = json.dumps(request.schema, separators=(",", ":"))
    return f"--- system ---\n{request.system}\n--- user ---\n{request.user}\n--- answer schema ---\n{schema}\n---"


def batches(items: Sequence[T], size: int) -> list[list[T]]:
    """Consecutive groups of ``size`` items, in input order."""
    return [list(items[i:i + size]) for i in range(0, len(items), size)]
