"""The options of a run, as recorded in ``config/run_config.json``; a task subclasses them for its own."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from labnb.errors import UsageError
from labnb.limits import check_run_limits
from labnb.pacing.budget import check_max_cost
from labnb.pacing.concurrency import parse_concurrency

_CHECKOUT = Path(__file__).resolve().parents[3]
# In a checkout (or an editable install) defaults are the checkout's config/ and runs/; a plain
# `pip install .` has no config/ beside the code, so they are the current directory's.
PROJECT_ROOT = _CHECKOUT if (_CHECKOUT / "config").is_dir() else Path.cwd()


@dataclass(frozen=True)
class RunOptions:
    """The options every task shares; ``single`` and ``input`` name what to classify."""

    model: str | None = None
    input: str | None = None
    batch_size: int = 1
    models_config: str = str(PROJECT_ROOT / "config" / "models.yaml")
    runs_dir: str = str(PROJECT_ROOT / "runs")
    limit: int | None = None
    fields: str | None = None  # --fields a,b: exactly the extra columns offered to the model (labnb.inputs.labelcols)
    concurrency: int | str = "auto"  # a number, or "auto" (labnb.pacing.concurrency)
    timeout: float | None = None
    explain: bool = False
    max_cost: float | None = None
    batch_api: bool = False
    prompt: str | None = None  # a prompt file replacing the task's built-in prompt
    examples: str | None = None  # labelled items: few-shot examples for LLMs, training data for the local model
    shots: int | None = None  # examples per request (default 3 with --examples)
    shot_selection: str = "knn"
    seed: int = 0
    escalate_to: str | None = None  # a cascade: items the model is unsure of go to this model
    escalate_below: float | None = None
    tags: tuple[str, ...] = ()
    note: str | None = None
    engine: str | None = None  # process | ray: the local model streamed part by part (labnb.scale)
    ray_address: str | None = None  # --engine ray: a running cluster to join (default RAY_ADDRESS, else local)
    part_rows: int = 10_000  # --engine: rows per part (the unit of work, resume and output)
    no_cache: bool = False  # send every request: neither read nor keep answers in the response cache
    cache_db: str | None = None  # the response cache (default <runs_dir>/.cache/responses.sqlite)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunOptions:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("tags"), list):
            values["tags"] = tuple(values["tags"])
        return cls(**values)

    @classmethod
    def single_option(cls) -> str:
        """The field that classifies one text given on the command line (e.g. ``single_text``)."""
        return ""

    def single(self) -> str | None:
        name = self.single_option()
        return getattr(self, name) if name else None

    def check(self) -> None:
        """Usage errors that argparse cannot express."""
        single = self.single_option()
        if single and (self.single() is None) == (self.input is None):
            flag = "--" + single.replace("_", "-")
            raise UsageError(f"give exactly one of {flag} {single.split('_')[-1].upper()} or --input FILE")
        if not single and self.input is None:
            raise UsageError("give the items to classify with --input FILE")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, got {self.batch_size}")
        concurrency = parse_concurrency(self.concurrency)
        check_run_limits(concurrency if isinstance(concurrency, int) else None, self.timeout)
        if self.limit is not None and self.limit < 1:
            raise UsageError(f"--limit must be at least 1, got {self.limit}")
        if self.timeout is not None and self.timeout <= 0:
            raise UsageError(f"--timeout must be positive, got {self.timeout}")
        check_max_cost(self.max_cost)
        if self.shots is not None and self.shots < 0:
            raise UsageError(f"--shots must be 0 or more, got {self.shots}")
        if (self.shots or self.shot_selection != "knn") and self.examples is None:
            raise UsageError("--shots and --shot-selection need --examples FILE")
        if (self.escalate_to is None) != (self.escalate_below is None):
            raise UsageError("--escalate-to ALIAS and --escalate-below P go together")
        if self.escalate_below is not None and not 0 < self.escalate_below <= 1:
            raise UsageError(f"--escalate-below must be a probability in (0, 1], got {self.escalate_below}")
        if self.escalate_to is not None and self.batch_api:
            raise UsageError("a cascade (--escalate-to) cannot run on a batch API")
