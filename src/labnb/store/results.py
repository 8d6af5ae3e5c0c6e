"""Records that cross the framework's modules: one item's result and one batch's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field

from labnb.store.calls import CallRecord

STATUSES = ("ok", "invalid", "error", "not_run")
DONE_STATUSES = ("ok", "invalid", "error")
ERROR_TYPES = (
    "rate_limit", "server_error", "timeout", "connection", "bad_response",
    "invalid_label", "refusal", "truncated", "missing_answer", "not_run", "bad_request",
    "context_exceeded",  # the prompt is longer than the model's (or the server's) context: HTTP 400, not retried
    "batch_expired", "batch_cancelled", "batch_errored", "cancelled", "budget_exhausted",
    "bad_input",  # a malformed row of a streamed input (labnb.scale): that item's invalid row
)


@dataclass
class ItemResult:
    """The answer for one item. ``status`` is ok | invalid | error | not_run; ``answer`` the chosen columns."""

    item_id: str
    answer: dict[str, str] = field(default_factory=dict)
    status: str = "ok"
    raw_response: str = ""
    error: str = ""
    error_type: str = ""
    latency_ms: float = 0.0
    confidence: float | None = None
    call_id: str = ""
    model_used: str = ""  # set when another model than the run's answered (a cascade's second model)
    cascade: dict[str, str] | None = None  # a cascade's first answer: first_model, first_answer, first_confidence


@dataclass
class BatchOutcome:
    """What classifying one batch produced: a result per item and every call it took."""

    results: list[ItemResult] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    refused: int = 0  # requests the budget refused (their items are ``not_run``/``budget_exhausted``)


def refused(item_id: str, reason: str) -> ItemResult:
    """The row of an item whose request the budget refused: not run, so ``--resume`` asks for it again."""
    return ItemResult(item_id, status="not_run", error_type="budget_exhausted", error=f"not sent: {reason}")
