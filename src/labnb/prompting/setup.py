"""A run's prompting: the prompt file (``--prompt`` or the task's shipped one) and its few-shot examples.

Built before anything is written (a broken template or examples file is a one-line error and no
run folder), from the command line for a new run or from a run folder's own ``inputs/`` snapshot
for resume, retry-failed and replay. Without ``--prompt`` and ``--examples`` a run has none and
the task renders its built-in prompt, byte for byte as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labnb.answers import one_line, sha256_text
from labnb.errors import InputError, UsageError
from labnb.fewshot import Example, ExampleSet, Leakage, ShotSelector, ShotSettings
from labnb.fewshot.examples import shown
from labnb.inputs.itemrows import ids_generated
from labnb.prompting.files import PromptFile, load_prompt_file
from labnb.prompting.variables import answer_format_text

if TYPE_CHECKING:
    from labnb.store.runfolder import RunFolder
    from labnb.task import Item, Task

PROMPT_SNAPSHOT = "inputs/prompt.yaml"
EXAMPLES_SNAPSHOT = "inputs/examples"  # + the examples file's own suffix
FIELD_CHARS = 300
DEFAULT_SHOTS = 3


@dataclass
class Prompting:
    """What shapes the requests of a run beyond the task's built-in prompt."""

    prompt: PromptFile
    examples: ExampleSet | None = None
    selector: ShotSelector | None = None
    fixed: list[Example] = field(default_factory=list)
    leakage: Leakage = field(default_factory=Leakage)
    examples_path: Path | None = None
    builtin: bool = False  # the task's own prompt file, rendered as its built-in prompt (not --prompt/--examples)
    _batches: dict[tuple[str, ...], list[Example]] = field(default_factory=dict, repr=False)

    def system(self, task: Task, *, explain: bool) -> str:
        return self.prompt.render_system(self._variables(task, explain, self.fixed))

    def user(self, task: Task, items: Sequence[Item], *, explain: bool) -> str:
        variables = {**self._variables(task, explain, self.batch_examples(items)), **task.batch_variables(items)}
        limit = task.prompt_text_chars
        listed = [{"n": n, "id": item.item_id, "text": one_line(item.text, limit or len(item.text) + 1),
                   "fields": [list(f) for f in item_fields(item)]} for n, item in enumerate(items, start=1)]
        return self.prompt.render_user({**variables, "items": listed, "count": len(listed)})

    def batch_examples(self, items: Sequence[Item]) -> list[Example]:
        """The examples shown after the prefix for ``items`` (cached: rendering and recording agree)."""
        if self.selector is None:
            return []
        key = tuple(item.item_id for item in items)
        if key not in self._batches:
            self._batches[key] = self.selector.for_batch([(item.item_id, item.text) for item in items])
        return self._batches[key]

    def example_ids(self, items: Sequence[Item]) -> list[str]:
        """Every example a request for ``items`` shows: the fixed ones, then the batch's."""
        return [e.id for e in self.fixed] + [e.id for e in self.batch_examples(items)]

    def _variables(self, task: Task, explain: bool, examples: Sequence[Example]) -> dict[str, Any]:
        refusal = None if self.builtin else task.prompt_file_refusal()
        if refusal is not None:
            raise UsageError(refusal)
        choices = list(task.choices().values())
        return {
            "choices": [{"k": c.code, "id": c.id, "name": c.name, "description": c.description,
                         "group": c.group.name if c.group else ""} for c in choices],
            "examples": shown(examples, {c.id: c.code for c in choices}, {c.id: c.name for c in choices}),
            "answer_format": answer_format_text(task.item_noun, task.choice_noun, explain=explain),
            "item_noun": task.item_noun, "choice_noun": task.choice_noun, "explain": explain,
            **task.prompt_variables(explain=explain),
        }

    def snapshot(self, folder: RunFolder) -> None:
        """The prompt file and the examples file, byte for byte, into ``inputs/``."""
        folder.copy_in(self.prompt.path, PROMPT_SNAPSHOT)
        if self.examples_path is not None:
            folder.copy_in(self.examples_path, EXAMPLES_SNAPSHOT + self.examples_path.suffix)

    def record(self, system: str) -> dict[str, Any]:
        """For ``prompt_templates.json``: the prompt file, the rendered prefix and the few-shot settings."""
        out: dict[str, Any] = {
            "prompt_file": {"path": str(self.prompt.path), "sha256": self.prompt.sha256, "snapshot": PROMPT_SNAPSHOT,
                            "answer_format_appended": self.prompt.appends_answer_format},
            "system_template": self.prompt.sources["system"], "user_template": self.prompt.sources["user"],
            "rendered_system_prompt": system, "rendered_system_prompt_sha256": sha256_text(system),
        }
        if self.examples is not None:
            out["examples"] = {**self.examples.record(), **(self.selector.settings.record() if self.selector else {}),
                               "fixed_example_ids": [e.id for e in self.fixed]}
        return out

    def summary(self) -> dict[str, Any]:
        """For ``run_summary.json``."""
        if self.examples is None:
            return {}
        return {"examples": {"count": len(self.examples), **self.leakage.record()}}

    def warning(self, noun: str) -> str | None:
        if not self.leakage.pairs:
            return None
        first, how = self.leakage.item_ids[0], "id or text" if self.leakage.by_id else "text"
        return (f"the examples file overlaps the input: {len(self.leakage.item_ids)} {noun}s match an example by "
                f"{how} (e.g. {first}); those examples are never shown with them")


def item_fields(item: Item) -> tuple[tuple[str, str], ...]:
    """The (name, value) pairs offered with an item: its description, then its other fields, one-lined."""
    out = [("description", one_line(item.description, FIELD_CHARS))] if item.description else []
    out.extend((key, one_line(value, FIELD_CHARS)) for key, value in item.extra.items())
    return tuple(out)


def load_examples(task: Task, path: Path) -> ExampleSet:
    """``--examples FILE``: items in the task's input format whose gold names a choice."""
    examples = []
    for number, item in enumerate(task.read_items(path), start=1):
        label = task.gold_choice(item)
        if label is None:
            raise InputError(f"{path}: example {number} ('{item.item_id}') has no gold label of "
                             f"{task.choices_source}; every example needs one")
        examples.append(Example(item.item_id, item.text, label, item_fields(item)))
    return ExampleSet(tuple(examples), hashlib.sha256(path.read_bytes()).hexdigest(), str(path))


def build_prompting(task: Task, options: Any, items: Sequence[Item], *, folder: RunFolder | None = None,
                    uses_shots: bool = True) -> Prompting | None:
    """The run's prompting, or None when it has neither a prompt file nor examples (the built-in prompt)."""
    prompt_path = _path(options.prompt, folder, PROMPT_SNAPSHOT, always=True)
    examples_path = _path(options.examples, folder, EXAMPLES_SNAPSHOT + Path(options.examples or "").suffix)
    if prompt_path is None and examples_path is None:
        return None
    if task.prompt_file is None:
        raise UsageError(f"{task.name} does not support --prompt and --examples")
    prompt = load_prompt_file(prompt_path or task.prompt_file, extra_variables=task.prompt_extra_variables)
    setup = Prompting(prompt, examples_path=examples_path)
    if examples_path is not None:
        setup.examples = load_examples(task, examples_path)
        shots = DEFAULT_SHOTS if options.shots is None else options.shots
        settings = ShotSettings(shots, options.shot_selection, options.seed)
        pairs = [(item.item_id, item.text) for item in items]
        match_ids = not (ids_generated([e.id for e in setup.examples.examples]) or ids_generated(
            [item_id for item_id, _ in pairs]))
        if uses_shots and settings.shots:
            setup.selector = ShotSelector(setup.examples, settings, encode=_encode, match_ids=match_ids)
            setup.leakage = setup.selector.leakage(pairs)
            setup.fixed = setup.selector.fixed(pairs)
        else:
            setup.leakage = ShotSelector(setup.examples, ShotSettings(0, "fixed"), match_ids=match_ids).leakage(pairs)
    return setup


def _path(given: str | None, folder: RunFolder | None, snapshot: str, *, always: bool = False) -> Path | None:
    if folder is not None:  # a continued or replayed run: its own copy, never today's file
        copy = folder.file(snapshot)
        return copy if (given is not None or always) and copy.is_file() else None
    return Path(given) if given is not None else None


def _encode(texts: list[str]) -> Any:
    from labnb.local.embedder import load_embedder  # torch only when knn needs it

    return load_embedder().encode(texts)
