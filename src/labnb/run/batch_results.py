"""Turn downloaded batch-API results into item rows and calls, with the synchronous run's rules.

A batch cannot make follow-up calls, so there is no repair (a schema-violating answer stays
``invalid``/``bad_response``) and no single retry (a truncated batch answer is ``error``/``truncated``);
``--retry-failed`` sends those items again. Settling is idempotent: a part whose settling was cut
short by a crash is settled again without writing any call or row twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from labnb.answers.judging import failed, judge, schema_violations, unanswered
from labnb.batchapi import BatchJob, BatchPart
from labnb.batchapi import ItemResult as BatchItemResult
from labnb.clients.requests import RequestBuilder
from labnb.cost.usage import Usage
from labnb.run.outputs import OutputWriter
from labnb.run.plan import Plan
from labnb.store.calls import CallRecord
from labnb.store.jsonio import read_jsonl
from labnb.store.logs import read_csv_rows
from labnb.store.results import BatchOutcome
from labnb.store.runfolder import RunFolder
from labnb.store.timeutil import parse_utc
from labnb.task import Item, Task

TRUNCATED = "the batch answer was cut off at max_tokens; --retry-failed asks for these items again"


def elapsed_ms(part: BatchPart) -> float:
    """How long the provider took for the part's batch: the latency of each of its requests."""
    if not (part.created_at and part.ended_at):
        return 0.0
    return round((parse_utc(part.ended_at) - parse_utc(part.created_at)).total_seconds() * 1000, 3)


def settle_group(items: Sequence[Item], item: BatchItemResult, call_id: str, part: BatchPart,
                 builder: RequestBuilder, task: Task) -> BatchOutcome:
    """The call record and one result per item for one batch request's result."""
    request = builder.build(items)
    call = CallRecord(
        call_id=call_id, item_ids=[p.item_id for p in items], started_at=part.created_at or part.intent_at,
        latency_ms=elapsed_ms(part), status="ok", attempt="batch",
        request={**builder.record(request, items), "custom_id": item.custom_id, "batch_id": part.batch_id},
    )
    call.usage_max = Usage(builder.request_tokens(request, exact=False), request.max_tokens or builder.entry.max_tokens)
    outcome = BatchOutcome(calls=[call])
    response = item.response
    if response is None:
        call.status, call.error_type, call.error = "error", item.error_type, item.error
        if item.answered:
            call.usage, call.usage_known = item.usage or Usage(), item.usage is not None
        outcome.results = [failed(p, call) for p in items]
        return outcome
    call.usage, call.response = response.usage, response.raw.get("body", "")
    call.usage_known = response.usage_known
    judged = judge(items, response, call, task)
    if judged.split:
        call.status, call.error_type, call.error = "error", "truncated", TRUNCATED
        results = {p.item_id: failed(p, call, response.text) for p in items}
    elif judged.problem:
        results = schema_violations(items, judged, response.text)
    else:
        results = judged.results
    outcome.results = unanswered(items, results, task.item_noun)
    for result in outcome.results:  # every row points at the call it came from
        result.call_id, result.latency_ms = call.call_id, call.latency_ms
    return outcome


def settle(plan: Plan, folder: RunFolder, job: BatchJob) -> int:
    """Write rows and calls for every downloaded part; returns the number of parts settled."""
    outputs = folder.file("outputs")
    calls = read_jsonl(outputs / "calls.jsonl")
    written = {(c["request"].get("batch_id"), c["request"].get("custom_id")): c["call_id"]
               for c in calls if c.get("attempt") == "batch" and isinstance(c.get("request"), dict)}
    id_column = plan.task.id_column
    rows = {(r[id_column], r["call_id"]) for r in read_csv_rows(outputs / "classifications.csv")}
    builder = RequestBuilder(plan.entry, plan.task, explain=plan.options.explain)
    by_id = {p.item_id: p for p in plan.items}
    ids = [str(c.get("call_id", "")) for c in calls]  # after the highest id, as the run loop numbers them
    number = max((int(i[1:]) for i in ids if i[1:].isdigit()), default=0) + 1
    settled = 0
    writer = OutputWriter(outputs, plan.task, plan.items, plan.entry.model_used)
    try:
        for part in [p for p in job.parts if p.state == "downloaded"]:
            results = {r.custom_id: r for r in job.provider.results(part, job.directory)}
            for custom_id, ids in job.items(part).items():
                item = results.pop(custom_id, None) or job.provider.missing(part, custom_id)
                call_id = written.get((part.batch_id, custom_id))
                outcome = settle_group([by_id[i] for i in ids], item, call_id or f"c{number:06d}", part, builder,
                                       plan.task)
                if call_id is None:
                    number += 1
                else:  # settled before a crash cut this part short: add only the rows still missing
                    outcome.calls = []
                    outcome.results = [r for r in outcome.results if (r.item_id, call_id) not in rows]
                writer.write(outcome)
            for custom_id in sorted(results):
                writer.note(f"batch {part.batch_id}: ignored a result for unknown request {custom_id}")
            job.mark(part, "settled")
            settled += 1
    finally:
        writer.close()
    return settled
