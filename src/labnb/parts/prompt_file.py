"""A task's built-in prompt is its prompt file (``Task.prompt_file``), rendered like any ``--prompt FILE``.

The prompt is written once, in that file; the requests, ``--dry-run --show-prompt`` and
``inputs/prompt_templates.json`` all come from it. A task without its own file gets ``GENERIC_PROMPT``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from labnb.answers import prompt_record
from labnb.prompting import answer_format_text
from labnb.task import Choice, ItemT, JsonValue, OptionsT, Task

if TYPE_CHECKING:  # jinja2 is imported when a run renders, not to parse --help
    from labnb.prompting.setup import Prompting

GENERIC_PROMPT = Path(__file__).resolve().parents[1] / "prompting" / "generic.yaml"


class PromptFromFile(Task[ItemT, OptionsT]):
    """Renders ``prompt_file`` (default ``GENERIC_PROMPT``) with the framework's variables and the task's own."""

    @cached_property
    def _builtin(self) -> Prompting:
        from labnb.prompting.files import load_prompt_file
        from labnb.prompting.setup import Prompting

        return Prompting(load_prompt_file(self.prompt_file or GENERIC_PROMPT,
                                          extra_variables=self.prompt_extra_variables), builtin=True)

    def render_system(self, *, explain: bool = False) -> str:
        return self._builtin.system(self, explain=explain)

    def render_user(self, items: Sequence[ItemT]) -> str:
        return self._builtin.user(self, items, explain=False)

    def prompt_templates(self, *, explain: bool = False) -> dict[str, JsonValue]:
        prompt = self._builtin.prompt
        codes = {k: self.code_record(choice) for k, choice in self.choices().items()}
        return prompt_record(self.render_system(explain=explain), codes, explain=explain,
                             prompt_file=str(prompt.path), system_template=prompt.sources["system"],
                             user_template=prompt.sources["user"])

    def code_record(self, choice: Choice) -> JsonValue:
        """What ``label_codes`` in ``prompt_templates.json`` says a choice number stands for: its id."""
        return choice.id

    def prompt_variables(self, *, explain: bool = False) -> dict[str, JsonValue]:
        """``labels`` (one ``number: Name - description`` line per choice) and the answer format."""
        listing = "\n".join(f"  {k}: {c.name}" + (f" - {c.description}" if c.description else "")
                            for k, c in self.choices().items())
        return {"labels": listing, "answer_format": answer_format_text(self.item_noun, self.choice_noun,
                                                                       explain=explain)}
