"""The run's ledger from its folder: every call ``calls.jsonl`` holds, priced with the model it called.

``calls_sent.jsonl`` is the write-ahead half of the call log: a line before each request is sent.
A call sent in a session that died before its answer was written (kill -9, a full disk) has a line
there and none in ``calls.jsonl``; the next session records it in ``calls.jsonl`` as ``unsettled``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from labnb.config import Pricing
from labnb.cost.totals import call_cost
from labnb.pacing.budget import Ledger
from labnb.run.plan import Plan
from labnb.store.calls import CallRecord, unsettled_record
from labnb.store.jsonio import read_jsonl
from labnb.store.logs import JsonlLog

SENT_LOG = "calls_sent.jsonl"


def pricing_of(plan: Plan) -> Callable[[CallRecord], Pricing]:
    """The prices of the model a call was made to (a cascade's second model has its own)."""
    second = plan.escalation

    def pricing(call: CallRecord) -> Pricing:
        return second.pricing if second is not None and call.model == second.model_used else plan.entry.pricing

    return pricing


def record_unsettled(outputs: Path) -> int:
    """Append an ``unsettled`` record for every call sent but never settled; returns how many."""
    logged = {str(c.get("call_id", "")) for c in read_jsonl(outputs / "calls.jsonl")}
    lost = [s for s in read_jsonl(outputs / SENT_LOG) if str(s.get("call_id", "")) not in logged]
    if lost:
        log = JsonlLog(outputs / "calls.jsonl")
        try:
            for sent in lost:
                log.write(unsettled_record(sent).to_dict())
        finally:
            log.close()
    return len(lost)


def open_ledger(plan: Plan, outputs: Path) -> Ledger:
    """The run's ledger, starting from every call on record (unsettled ones at their worst case)."""
    price = pricing_of(plan)
    calls = [CallRecord.from_dict(c) for c in read_jsonl(outputs / "calls.jsonl")]
    return Ledger(plan.options.max_cost, settled=sum(call_cost(c, price(c)) for c in calls))
