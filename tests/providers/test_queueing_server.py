"""A local OpenAI-compatible server as llama-server behaves (the fake's ``like_llama_server``): one slot and a
queue, no rate-limit headers, its own answer shape, and HTTP 400 for a prompt longer than its context.

Every assertion is on counts (the fake's own log of what it served and queued, the run's records), never on seconds.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from fakeapi_answer import tokens

from conftest import ROOT, write_models_yaml

SAMPLE = str(ROOT / "data" / "sample_products.csv")
ITEMS = 40
START = 8  # --concurrency auto sends 8 at once before it has seen a single latency


def rows(result) -> pd.DataFrame:
    return pd.read_csv(result.run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)


def calls(result) -> list[dict]:
    return [json.loads(line) for line in (result.run_dir / "outputs" / "calls.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("timings", [True, False], ids=["server-says-its-time", "latency-only"])
def test_auto_concurrency_keeps_a_one_slot_server_queue_short(cli, fake_api, timings):
    # With ``timings`` (llama-server) the client measures latency against the server's own time; without
    # (vLLM, Ollama) against the best latency it has seen.
    slots = fake_api.like_llama_server(slots=1, service=0.2, timings=timings)
    result = cli("--input", SAMPLE, "--limit", str(ITEMS), "--concurrency", "auto")
    assert result.code == 0, result.err
    table = rows(result)
    assert len(table) == ITEMS and set(table["status"]) == {"ok"}
    made = calls(result)
    assert len(made) == ITEMS == len(slots.arrivals) and all(c["retries"] == 0 for c in made)
    # The first 8 go out at once and queue (the 8th finds 7 ahead of it); until the smoothed latency is twice
    # the server's time (or the best seen) the client keeps 8 or more in flight. Then it keeps what keeps the
    # server busy (1 slot, plus the client's own share of a round trip) plus one waiting: 2 or 3. It grows by one
    # slot per round trip while latency is within 1.5x, and is cut again once latency doubles, so an arriving
    # request finds at most 4 in the server (itself included) unless the client's own time per request were
    # several times the server's 0.2 s. Before the fix every arrival found 8 or more.
    assert slots.arrivals[:START] == list(range(1, START + 1))
    cut = next(i for i, n in enumerate(slots.arrivals) if i >= START and n <= 3)  # the first request after the cut
    assert cut <= ITEMS - 10 and max(slots.arrivals[cut:]) <= 4, slots.arrivals
    concurrency = result.json("outputs/token_usage.json")["rate_limits"]["concurrency"]
    assert concurrency["mode"] == "auto" and concurrency["queue_cuts"] >= 1 and concurrency["final"] <= 4
    assert concurrency["overload_cuts"] == 0  # no timeouts, no 429s: latency alone told
    assert concurrency["keeps_server_busy"] < 3 and concurrency["decided"].startswith(
        f"the server queued requests (latency grew with the number in flight): kept {concurrency['final']} in flight")
    assert result.json("outputs/timing.json")["rate_limit"]["concurrency"] == concurrency
    assert result.json("outputs/token_usage.json")["rate_limits"]["limits"] == {}  # no rate-limit headers


@pytest.mark.parametrize("timings", [True, False], ids=["server-says-its-time", "latency-only"])
def test_a_server_of_the_users_own_is_probed_with_one_request_and_never_gets_a_blind_wave(cli, fake_api, tmp_path,
                                                                                           timings):
    # base_url in models.yaml (a server of the user's own): auto sends one request, sees no rate-limit headers in
    # its answer, and grows from 1 only while answers come back without waiting in the server's queue.
    slots = fake_api.like_llama_server(slots=1, service=0.2, timings=timings)
    models = write_models_yaml(tmp_path / "own.yaml", gpt4o_mini={"base_url": f"{fake_api.url}/v1"})
    result = cli("--input", SAMPLE, "--limit", str(ITEMS), "--concurrency", "auto", models_config=models)
    assert result.code == 0, result.err
    assert len(rows(result)) == ITEMS and set(rows(result)["status"]) == {"ok"}
    # The second request goes out only once the first is answered (the server is empty again); from then on, by
    # the argument of the test above, at most 4 in the server, now from the very first request.
    assert slots.arrivals[:2] == [1, 1] and max(slots.arrivals) <= 4, slots.arrivals
    concurrency = result.json("outputs/token_usage.json")["rate_limits"]["concurrency"]
    assert concurrency["start"] == 1 and concurrency["peak"] <= 4 and concurrency["final"] <= 4


def test_a_prompt_longer_than_the_server_context_is_that_items_error_row_sent_once(cli, fake_api):
    # 400 tokens of context: the assign-cat prompt (the taxonomy) never fits; the run goes on, every item has its
    # error row, each call is recorded once and was sent once (no retry of a request that cannot succeed).
    fake_api.like_llama_server(slots=1, service=0.0, context_size=400)
    result = cli("--input", SAMPLE, "--limit", "3", "--concurrency", "1")
    assert result.code == 1, result.err  # nothing classified; a one-line reason, no traceback
    assert "Traceback" not in result.err
    table = rows(result)
    assert list(table["status"]) == ["error"] * 3 and set(table["error_type"]) == {"context_exceeded"}
    sent = fake_api.requests_to("/v1/chat/completions")[0]["json"]["messages"]
    prompt = tokens(sent[0]["content"] + sent[1]["content"])  # what the fake counted and said
    assert table["error"][0] == (f"the prompt is {prompt} tokens, more than the server's context size of 400 "
                                 "tokens: start the server with a larger context (llama-server --ctx-size "
                                 f"{max(1024, 1 << (prompt + 512 - 1).bit_length())}) or send a shorter prompt "
                                 "(a smaller --batch-size)")
    made = calls(result)
    assert [c["error_type"] for c in made] == ["context_exceeded"] * 3 and all(c["retries"] == 0 for c in made)
    assert [s["status"] for s in fake_api.served] == [400] * 3 and len(fake_api.requests) == 3


def test_an_answer_cut_off_by_a_full_context_says_so_and_keeps_the_servers_counts(cli, fake_api):
    fake_api.like_llama_server(slots=1, service=0.0)
    first = cli("--input", SAMPLE, "--limit", "1", "--no-cache")
    assert first.code == 0, first.err
    sent = fake_api.requests_to("/v1/chat/completions")[0]["json"]
    prompt = tokens(sent["messages"][0]["content"] + sent["messages"][1]["content"])
    fake_api.context_size = prompt + 5  # room for 5 tokens of answer: llama-server stops there, finish "length"
    result = cli("--input", SAMPLE, "--limit", "1", "--no-cache")
    assert result.code == 1, result.err
    table = rows(result)
    (call,) = calls(result)
    served = json.loads(call["response"])
    assert served["choices"][0]["finish_reason"] == "length" and served["usage"]["completion_tokens"] == 5
    assert (call["status"], call["error_type"], call["usage"]["output_tokens"]) == ("error", "truncated", 5)
    assert call["usage"]["input_tokens"] == prompt and call["retries"] == 0
    assert list(table["status"]) == ["error"] and list(table["error_type"]) == ["truncated"]
    assert table["error"][0] == (f"the answer was cut off after 5 tokens, before max_tokens "
                                 f"({sent['max_tokens']}): prompt and answer ({prompt + 5} tokens) filled the "
                                 "model's context; give the server a larger context (llama-server --ctx-size) or "
                                 "send a shorter prompt")
    # llama-server's own shape, kept as it came: timings, its fingerprint, usage without completion details
    assert set(served) == {"choices", "created", "model", "system_fingerprint", "object", "usage", "id", "timings"}
    assert served["system_fingerprint"] == "b0-unknown" and set(served["usage"]) == {
        "completion_tokens", "prompt_tokens", "total_tokens", "prompt_tokens_details"}


def test_the_dry_run_times_a_server_of_the_users_own_by_what_auto_settled_on(cli, fake_api, tmp_path):
    # Without an earlier run, auto at a server of the user's own is counted at 1 in flight (it starts there and
    # grows only while the server does not queue), not as OpenAI's waves of 8, 16, 32 and 64; after a run, at what
    # auto settled on at that server, with that run's median latency.
    from labnb.cost.duration_estimate import TYPICAL_LATENCY, DurationEstimate

    fake_api.like_llama_server(slots=1, service=0.2, timings=False)
    models = write_models_yaml(tmp_path / "own.yaml", gpt4o_mini={"base_url": f"{fake_api.url}/v1"})
    args = ("--input", SAMPLE, "--limit", "12", "--concurrency", "auto")
    before = cli(*args, "--dry-run", models_config=models)
    row, note = before.out.splitlines()[2].split(), before.out.splitlines()[-1]
    assert row[1] == "12" and row[8] == DurationEstimate(12 * TYPICAL_LATENCY, "").text == "~12s"
    assert ("from concurrency auto, counted as 1 in flight (a server of your own: auto starts at 1 and grows only "
            "while the server does not queue) and a typical latency of 1 s per request (no earlier run)") in note
    run = cli(*args, "--no-cache", models_config=models)
    assert run.code == 0, run.err
    final = run.json("outputs/token_usage.json")["rate_limits"]["concurrency"]["final"]
    latency = run.json("outputs/timing.json")["latency_p50_ms"] / 1000
    after = cli(*args, "--dry-run", models_config=models)
    row, note = after.out.splitlines()[2].split(), after.out.splitlines()[-1]
    assert row[8] == DurationEstimate(-(-12 // final) * latency, "").text
    assert f"from run {run.run_dir.name} (limits learnt: no limits; median latency {latency:.2f} s) and " \
           f"concurrency auto ({final} in flight, as in that run)" in note
