"""The prompt part of a task: the stable system prefix and the per-request user turn.

Most tasks take ``labnb.parts.prompt_file.PromptFromFile``, which renders the task's prompt file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Generic

from labnb.parts.records import ItemT, JsonValue


class Prompt(ABC, Generic[ItemT]):
    """Renders requests (a run's ``--prompt``/``--examples`` are the task's ``prompting``)."""

    # The task's shipped prompt file (rendering it gives the built-in prompt byte for byte) and the template
    # variables of its own besides the generic ones.
    prompt_file: ClassVar[Path | None] = None
    prompt_extra_variables: ClassVar[tuple[str, ...]] = ()
    prompt_text_chars: ClassVar[int | None] = None  # where the built-in prompt cuts an item's main text

    @abstractmethod
    def render_system(self, *, explain: bool = False) -> str:
        """The stable prefix of every request: instructions and the numbered choices."""

    @abstractmethod
    def render_user(self, items: Sequence[ItemT]) -> str:
        """The per-request part: the batch's items, numbered from 1."""

    @abstractmethod
    def prompt_templates(self, *, explain: bool = False) -> dict[str, JsonValue]:
        """The templates behind the prompts, for ``inputs/prompt_templates.json``."""

    def prompt_variables(self, *, explain: bool = False) -> dict[str, JsonValue]:
        """The task's template variables: ``labels`` (its numbered listing) and its ``prompt_extra_variables``."""
        return {}

    def batch_variables(self, items: Sequence[ItemT]) -> dict[str, JsonValue]:
        """Variables of its own (named in ``prompt_extra_variables``) the user template gets for ``items``,
        e.g. the candidates this request offers."""
        return {}

    def prompt_file_refusal(self) -> str | None:
        """Why this task's requests cannot be rendered from ``--prompt``/``--examples`` (None: they can);
        the framework refuses the run with it when an LLM would render one."""
        return None
