"""The record of one model call, as written to ``outputs/calls.jsonl``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labnb.cost.usage import Usage, token_count


@dataclass
class CallRecord:
    """One API (or local model) call: what was sent, what came back, what it cost in tokens."""

    call_id: str
    item_ids: list[str]
    started_at: str
    latency_ms: float
    status: str  # ok | error | cancelled | unsettled (sent, and the run died before the answer was written)
    usage: Usage = field(default_factory=Usage)
    # False when the server's usage was missing or not token counts, and for cancelled and unsettled calls:
    # ``usage`` is then 0 and the call's cost is at most the price of ``usage_max``.
    usage_known: bool = True
    usage_max: Usage = field(default_factory=Usage)  # the request's input tokens (counted) and its max_tokens
    request: dict[str, Any] = field(default_factory=dict)
    response: str = ""
    error_type: str = ""
    error: str = ""
    retries: int = 0
    attempt: str = "first"  # first | single-retry | repair
    model: str = ""  # model_used of the call when it is not the run's model (a cascade's second model)
    cache_hit: bool = False  # answered by the response cache: nothing sent, nothing billed
    cached_from: str = ""  # with cache_hit: the id of the run that paid for the answer

    def to_dict(self) -> dict[str, Any]:
        # A shallow copy: asdict's deep copy of the request and response cost more than the write.
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["usage"] = self.usage.to_dict()
        data["usage_max"] = self.usage_max.to_dict()
        data["item_ids"] = list(self.item_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallRecord:
        data = dict(data)
        if not isinstance(data.get("usage_known", True), bool) or not _counts_valid(data.get("usage")):
            data["usage_known"] = False  # e.g. a NaN an older version wrote: unknown, never a crash
        data["usage"] = Usage.from_dict(data.get("usage"))
        data["usage_max"] = Usage.from_dict(data.get("usage_max"))
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


def _counts_valid(usage: Any) -> bool:
    if not isinstance(usage, dict):
        return False
    return all(token_count(usage.get(k, 0)) is not None for k in Usage.__dataclass_fields__)


def sent_record(call: CallRecord) -> dict[str, Any]:
    """The write-ahead line of ``call`` (``outputs/calls_sent.jsonl``), written before its request is sent."""
    return {"call_id": call.call_id, "item_ids": list(call.item_ids), "started_at": call.started_at,
            "attempt": call.attempt, "model": call.model, "usage_max": call.usage_max.to_dict()}


def unsettled_record(sent: dict[str, Any]) -> CallRecord:
    """The record of a call whose request was sent but whose answer never reached the log (kill -9, full disk)."""
    return CallRecord(
        call_id=str(sent.get("call_id", "")), item_ids=[str(i) for i in sent.get("item_ids") or []],
        started_at=str(sent.get("started_at", "")), latency_ms=0.0, status="unsettled", usage_known=False,
        usage_max=Usage.from_dict(sent.get("usage_max")), error_type="unsettled",
        error="sent, but the run stopped before its answer was recorded; its usage is unknown",
        attempt=str(sent.get("attempt", "first")), model=str(sent.get("model", "")),
    )
