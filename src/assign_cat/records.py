"""Records that cross the assign-cat modules: one product's result and one batch's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field

from labnb.calls import CallRecord

STATUSES = ("ok", "invalid", "error", "not_run")
ERROR_TYPES = (
    "rate_limit", "server_error", "timeout", "connection", "bad_response",
    "invalid_label", "refusal", "truncated", "missing_answer", "not_run", "bad_request",
    "batch_expired", "batch_cancelled", "batch_errored",
)


@dataclass
class ProductResult:
    """The answer for one product. ``status`` is ok | invalid | error | not_run."""

    product_id: str
    category: str = ""
    subcategory: str = ""
    status: str = "ok"
    raw_response: str = ""
    error: str = ""
    error_type: str = ""
    latency_ms: float = 0.0
    confidence: float | None = None
    call_id: str = ""


@dataclass
class BatchOutcome:
    """What classifying one batch produced: a result per product and every call it took."""

    results: list[ProductResult] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
