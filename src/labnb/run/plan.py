"""Everything a run needs, resolved and validated before anything is written.

A plan comes from the command line (a new run) or from a run folder's own snapshot
(``--resume``, ``--retry-failed``, ``--replay``), which ignores today's config files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from labnb.config import ModelEntry, load_models_config
from labnb.errors import InputError, UsageError
from labnb.run.options import RunOptions
from labnb.store.jsonio import read_json
from labnb.store.runfolder import RunFolder
from labnb.task import Item, Task


@dataclass
class Plan:
    task: Task
    options: RunOptions
    entry: ModelEntry
    models_config_path: Path
    items: list[Item]
    input_path: Path | None = None
    replay_of: str | None = None
    escalation: ModelEntry | None = None  # the cascade's second model (--escalate-to)
    prepare_seconds: float = 0.0  # reading inputs and labels (a deep label tree's embedding too): part of setup

    @property
    def with_gold(self) -> bool:
        return any(item.has_gold for item in self.items)


def _entry(models_config: Path, alias: str | None, timeout: float | None, *, require_key: bool = True) -> ModelEntry:
    entry = load_models_config(models_config).get(alias)
    if timeout is not None:
        entry = replace(entry, timeout=timeout)
    if require_key:
        entry.api_key()  # a missing key is reported now, before any run folder exists
    return entry


def check_options(options: RunOptions, entry: ModelEntry) -> None:
    """Options the chosen model cannot honour are refused, never dropped."""
    from labnb.providers import provider

    if options.explain and not provider(entry).chat:
        raise UsageError(f"--explain: model '{entry.alias}' ({entry.provider}) gives no reasons; drop --explain")


def prepare(task: Task, options: RunOptions, *, require_key: bool = True) -> Plan:
    """Validate options and load config, labels and items for a new run."""
    clock = time.perf_counter()
    options.check()
    models_path = Path(options.models_config)
    entry = _entry(models_path, options.model, options.timeout, require_key=require_key)
    check_options(options, entry)
    task = task.for_inputs(options)
    items = task.load(options)
    input_path = Path(options.input) if options.input is not None else None
    plan = checked(Plan(task, options, entry, models_path, items, input_path), require_key=require_key)
    plan.prepare_seconds = time.perf_counter() - clock
    return plan


def checked(plan: Plan, folder: RunFolder | None = None, *, require_key: bool = True) -> Plan:
    """Set up the plan's prompt file and examples and render its first request, so that a broken template
    is a one-line error before any run folder exists."""
    from labnb.prompting.setup import build_prompting
    from labnb.providers import provider

    options = plan.options
    if options.escalate_to is not None:
        plan.escalation = _entry(plan.models_config_path, options.escalate_to, options.timeout, require_key=require_key)
    plan.task.cascading = plan.escalation is not None
    plan.task.prompting = build_prompting(plan.task, plan.options, plan.items, folder=folder)
    for entry in (plan.entry, plan.escalation):
        if entry is not None and plan.task.prompting is not None and provider(entry).chat and plan.items:
            from labnb.clients.requests import RequestBuilder

            RequestBuilder(entry, plan.task, explain=plan.options.explain).build(plan.items[: options.batch_size])
    return plan


def from_run(task: Task, folder: RunFolder, **overrides: Any) -> Plan:
    """The plan recorded in ``folder`` (its own snapshot), with ``overrides`` applied to its options."""
    config = folder.file("config/run_config.json")
    try:
        recorded = read_json(config)
        options = replace(task.options_class.from_dict(recorded["options"]), **overrides)
        task = task.for_inputs(options, folder)
        items = task.load_snapshot(folder, options)
    except FileNotFoundError as exc:
        raise InputError(f"{folder.path}: incomplete run folder, missing {Path(exc.filename).name}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{folder.path}: unreadable run snapshot: {exc}") from None
    models_path = folder.file("config/models.yaml")
    return checked(Plan(
        task=task, options=options, entry=_entry(models_path, options.model, options.timeout),
        models_config_path=models_path, items=items,
        input_path=Path(recorded["input_path"]) if recorded.get("input_path") else None,
        replay_of=recorded.get("replay_of"),
    ), folder)
