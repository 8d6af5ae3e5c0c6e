"""The record of one model call, as written to ``outputs/calls.jsonl``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labnb.cost.usage import Usage


@dataclass
class CallRecord:
    """One API (or local model) call: what was sent, what came back, what it cost in tokens."""

    call_id: str
    item_ids: list[str]
    started_at: str
    latency_ms: float
    status: str  # ok | error
    usage: Usage = field(default_factory=Usage)
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
        data["item_ids"] = list(self.item_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallRecord:
        data = dict(data)
        data["usage"] = Usage.from_dict(data.get("usage", {}))
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})
