"""``--timeout`` is a deadline for a whole call: a server that trickles its answer is cut off at it."""

from __future__ import annotations

import json
import time

import pytest
from fakeapi_wire import TRICKLE_BYTES, Fault

from conftest import ROOT

SAMPLE = ROOT / "data" / "sample_products.csv"


def wait_for_disconnect(server, seconds: float = 60.0) -> dict:
    """The server's record of the client hanging up on a trickled answer (an event, waited for)."""
    end = time.monotonic() + seconds
    while not server.disconnects and time.monotonic() < end:
        time.sleep(0.05)
    assert server.disconnects, "the client never hung up on the trickled answer"
    return server.disconnects[0]


@pytest.mark.parametrize("model", ["gpt4o_mini", "haiku"])
def test_a_trickled_answer_is_cut_off_at_the_deadline_as_a_timeout_row(cli, fake_api, model):
    fake_api.faults = [Fault("trickle", seconds=0.5)] * 3  # every attempt trickles: 10 bytes each 0.5 s
    result = cli("--model", model, "--input", str(SAMPLE), "--limit", "1", "--timeout", "2")
    assert result.code == 1, result.err
    (call,) = [json.loads(line) for line in (result.run_dir / "outputs" / "calls.jsonl").read_text().splitlines()]
    assert (call["status"], call["error_type"]) == ("error", "timeout")
    assert call["error"] == "no complete answer within the 2 s deadline (--timeout, or timeout in models.yaml)"
    # One attempt, cut off while the body was coming: the deadline spans retries too, so none followed.
    path = "/v1/chat/completions" if model == "gpt4o_mini" else "/v1/messages"
    assert len(fake_api.requests_to(path)) == 1
    gone = wait_for_disconnect(fake_api)
    # cut off mid-body: the whole body would have taken size / 10 × 0.5 s (some 15 s)
    assert gone["path"] == path and 0 < gone["sent"] < gone["size"] and gone["size"] > 20 * TRICKLE_BYTES
    row = result.json("outputs/token_usage.json")
    assert (row["calls_made"], row["total_prompt_tokens"], row["total_completion_tokens"]) == (1, 0, 0)
    assert result.out.startswith("completed_with_errors: 0 classified, 1 failed")


def test_a_slow_but_complete_answer_within_the_deadline_is_kept(cli, fake_api):
    fake_api.faults = [Fault("trickle", seconds=0.01)]
    result = cli("--single-product", "Vitamin D3 5000 IU", "--timeout", "30")
    assert result.code == 0, result.err
    assert fake_api.disconnects == []
    assert result.out.splitlines()[-1].startswith("completed: 1 classified, 0 failed")
