"""The fake API against the real openai / anthropic SDKs: wire formats, usage, caching, faults, batches."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import anthropic
import openai
import pytest
from fakeapi import FakeAPIServer, Fault
from fakeapi_wire import REFUSAL

from assign_cat.products import Product
from assign_cat.task import AssignCat
from assign_cat.taxonomy import Category, Subcategory, Taxonomy
from labnb.answers import answer_schema

# 2000 chars -> 500 system tokens; the user turn has 83 chars -> 520 prompt tokens in all.
SYSTEM_HEAD = ('Taxonomy "shop":\nvitamins: Vitamins\n  vitamin-c: Vitamin C\n  vitamin-d: Vitamin D\n'
               "sports-nutrition: Sports nutrition\n  protein-powder: Protein powder\n")
SYSTEM = SYSTEM_HEAD + "." * (2000 - len(SYSTEM_HEAD))
USER = "Classify these 2 products:\n1. Vitamin D drops | brand: Sunny\n2. Whey protein powder"
ROWS = [{"n": 1, "c": "vitamins", "s": "vitamin-d"}, {"n": 2, "c": "sports-nutrition", "s": "protein-powder"}]
ANSWER = '{"r":[{"n":1,"c":"vitamins","s":"vitamin-d"},{"n":2,"c":"sports-nutrition","s":"protein-powder"}]}'
ROW = {"type": "object", "properties": {"n": {"type": "integer"},
                                        "c": {"type": "string", "enum": ["vitamins", "sports-nutrition"]},
                                        "s": {"type": "string", "enum": ["vitamin-c", "vitamin-d", "protein-powder"]}}}
SCHEMA = {"type": "object", "properties": {"r": {"type": "array", "items": ROW}}, "required": ["r"]}
FORMAT = {"type": "json_schema", "json_schema": {"name": "answer", "strict": True, "schema": SCHEMA}}
TOOL = {"name": "answer", "input_schema": SCHEMA}


@pytest.fixture
def server():
    with FakeAPIServer() as srv:
        yield srv
    assert srv.errors == []


def oai(server, **kwargs) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(api_key="test-key", base_url=f"{server.url}/v1", _strict_response_validation=True, **kwargs)


def ant(server, **kwargs) -> anthropic.Anthropic:
    kwargs.setdefault("max_retries", 0)
    return anthropic.Anthropic(api_key="test-key", base_url=server.url, _strict_response_validation=True, **kwargs)


def chat(client, system=SYSTEM, user=USER, **kwargs):
    return client.chat.completions.create(model="gpt-test", response_format=FORMAT, **kwargs, messages=[
        {"role": "system", "content": system}, {"role": "user", "content": user}])


def message(client, cache=False, tools=True, **kwargs):
    system = [{"type": "text", "text": SYSTEM, **({"cache_control": {"type": "ephemeral"}} if cache else {})}]
    if tools:
        kwargs.update(tools=[TOOL], tool_choice={"type": "tool", "name": "answer"})
    return client.messages.create(model="claude-test", max_tokens=1000, system=system,
                                  messages=[{"role": "user", "content": USER}], **kwargs)


def test_openai_structured_answer_and_usage(server):
    out = chat(oai(server))
    assert out.choices[0].message.content == ANSWER
    assert out.choices[0].finish_reason == "stop"
    assert (out.usage.prompt_tokens, out.usage.completion_tokens, out.usage.total_tokens) == (520, 24, 544)
    assert out.usage.prompt_tokens_details.cached_tokens == 0
    assert server.usage_log == [{"provider": "openai", "input_tokens": 520, "output_tokens": 24, "cached_tokens": 0,
                                 "cache_write_tokens": 0, "path": "/v1/chat/completions", "batch": False,
                                 "id": out.id}]
    assert out.id == "chatcmpl-fake000002"
    request = server.requests[0]
    assert request["headers"]["authorization"] == "<redacted>"
    assert "test-key" not in json.dumps(server.requests)
    assert request["json"]["response_format"] == FORMAT


def test_openai_caches_a_repeated_system_prompt_above_the_minimum():
    with FakeAPIServer(cache_min_tokens=520) as server:
        client = oai(server)
        assert chat(client).usage.prompt_tokens_details.cached_tokens == 0
        second = chat(client).usage
        assert (second.prompt_tokens, second.prompt_tokens_details.cached_tokens) == (520, 384)  # 500 // 128 * 128
        server.cache_min_tokens = 521
        assert chat(client).usage.prompt_tokens_details.cached_tokens == 0
        assert server.total_usage() == {"input_tokens": 1560, "output_tokens": 72, "cached_tokens": 384,
                                        "cache_write_tokens": 0, "calls": 3}


def test_anthropic_tool_answer_and_cache_write_then_read():
    with FakeAPIServer(cache_min_tokens=500) as server:
        client = ant(server)
        first = message(client, cache=True)
        assert first.stop_reason == "tool_use"
        assert [(b.type, b.name, b.input) for b in first.content] == [("tool_use", "answer", {"r": ROWS})]
        assert (first.usage.input_tokens, first.usage.output_tokens) == (20, 24)
        assert (first.usage.cache_creation_input_tokens, first.usage.cache_read_input_tokens) == (500, 0)
        second = message(client, cache=True).usage
        assert (second.input_tokens, second.cache_creation_input_tokens, second.cache_read_input_tokens) == (20, 0, 500)
        uncached = message(client, cache=False).usage
        assert (uncached.input_tokens, uncached.cache_read_input_tokens) == (520, 0)
        assert server.total_usage("anthropic") == {"input_tokens": 1560, "output_tokens": 72, "cached_tokens": 500,
                                                   "cache_write_tokens": 500, "calls": 3}


def test_anthropic_without_tools_answers_text():
    with FakeAPIServer() as server:
        out = message(ant(server), tools=False)
        assert (out.stop_reason, out.content[0].type, out.content[0].text) == ("end_turn", "text", ANSWER)


def test_real_prompts_get_valid_labels_from_oracle_labels_and_default(server):
    taxonomy = Taxonomy("shop", "1", (
        Category("vitamins", "Vitamins", "Single vitamins", (Subcategory("vitamin-c", "Vitamin C"),
                                                             Subcategory("vitamin-d", "Vitamin D", "Sun"))),
        Category("sports-nutrition", "Sports", "", (Subcategory("protein-powder", "Protein powder"),
                                                    Subcategory("creatine", "Creatine"))),
    ))
    products = [Product("a", "Vitamin D drops 20 ml"), Product("b", "Whey protein powder", description="1 kg | tub"),
                Product("c", "Mystery box"), Product("d", "Gift card")]
    task = AssignCat(taxonomy)
    system, user = task.render_system(explain=True), task.render_user(products)
    server.labels = {"Gift card": ("sports-nutrition", "creatine")}
    server.taxonomy_pairs = [(c.id, s.id) for c in taxonomy.categories for s in c.subcategories]
    out = oai(server).chat.completions.create(model="m", messages=[
        {"role": "system", "content": system}, {"role": "user", "content": user}], response_format={
        "type": "json_schema", "json_schema": {"name": "a", "strict": True,
                                               "schema": answer_schema(taxonomy.codes, explain=True)}})
    # Subcategory numbers in document order: 1 vitamin-c, 2 vitamin-d, 3 protein-powder, 4 creatine.
    assert json.loads(out.choices[0].message.content) == {"r": [
        {"n": 1, "k": 2, "why": "fake reason"},
        {"n": 2, "k": 3, "why": "fake reason"},
        {"n": 3, "k": 1, "why": "fake reason"},  # no word matches: the first subcategory
        {"n": 4, "k": 4, "why": "fake reason"}]}  # from labels, through taxonomy_pairs
    assert out.usage.prompt_tokens == len(system + user) // 4
    server.default_label = ("vitamins", "vitamin-c")
    out = chat(oai(server))
    rows = json.loads(out.choices[0].message.content)["r"]
    assert [(r["c"], r["s"]) for r in rows] == [("vitamins", "vitamin-c")] * 2


def test_wrong_key_is_401_in_each_provider_format(server):
    with pytest.raises(openai.AuthenticationError) as oerr:
        chat(openai.OpenAI(api_key="sk-wrong-key-123", base_url=f"{server.url}/v1", max_retries=0))
    assert oerr.value.body == {"message": "Incorrect API key provided: sk-*********-123. You can find your API key "
                               "at https://platform.openai.com/account/api-keys.", "type": "invalid_request_error",
                               "param": None, "code": "invalid_api_key"}
    assert oerr.value.request_id == "req_fake000001"
    with pytest.raises(anthropic.AuthenticationError) as aerr:
        message(anthropic.Anthropic(api_key="nope", base_url=server.url, max_retries=0))
    assert aerr.value.body == {"type": "error", "request_id": "req_fake000002",
                               "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
    assert aerr.value.request_id == "req_fake000002"
    assert server.usage_log == [] and server.model_calls == 0


def test_unknown_path_is_404(server):
    with pytest.raises(openai.NotFoundError):
        oai(server).models.list()
    with pytest.raises(anthropic.NotFoundError):
        ant(server).models.list()


def test_429_with_retry_after_is_retried_by_both_sdks(server):
    server.faults = [Fault("status", status=429, retry_after=0.05), Fault("status", status=429, retry_after_ms=20)]
    raw = oai(server, max_retries=2).chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}])
    assert (raw.retries_taken, raw.parse().choices[0].message.content) == (2, ANSWER)
    attempts = server.requests_to("/v1/chat/completions")
    assert [r["headers"]["x-stainless-retry-count"] for r in attempts] == ["0", "1", "2"]
    server.faults = [Fault("status", status=529, error_type="overloaded_error", retry_after_ms=20)]
    assert message(ant(server, max_retries=1)).stop_reason == "tool_use"
    assert len(server.requests_to("/v1/messages")) == 2
    assert len(server.usage_log) == 2  # only 200 answers have usage


def test_status_faults_raise_the_sdk_error_classes(server):
    server.faults = [Fault("status", status=429, error_type="insufficient_quota", error_code="insufficient_quota")]
    with pytest.raises(openai.RateLimitError) as oerr:
        chat(oai(server))
    assert (oerr.value.code, oerr.value.type) == ("insufficient_quota", "insufficient_quota")
    server.faults = [Fault("status", status=529, error_type="overloaded_error")]
    with pytest.raises(anthropic.OverloadedError) as aerr:
        message(ant(server))
    assert aerr.value.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}


def test_echo_key_puts_the_secret_into_the_error_message():
    with FakeAPIServer(api_key="sk-secret-987") as server:
        server.faults = [Fault("status", status=400, echo_key=True)] * 2
        with pytest.raises(openai.BadRequestError) as oerr:
            chat(openai.OpenAI(api_key="sk-secret-987", base_url=f"{server.url}/v1", max_retries=0))
        assert oerr.value.body["message"] == "Request rejected (api key: sk-secret-987)"
        with pytest.raises(anthropic.BadRequestError) as aerr:
            message(anthropic.Anthropic(api_key="sk-secret-987", base_url=server.url, max_retries=0))
        assert "sk-secret-987" in str(aerr.value)
        assert "sk-secret-987" not in json.dumps(server.requests)


def test_fault_fn_scripts_a_pattern(server):
    server.fault_fn = lambda index, body: Fault("status", status=503) if index % 2 else None
    outcomes = []
    for _ in range(4):
        try:
            outcomes.append(chat(oai(server)).choices[0].finish_reason)
        except openai.InternalServerError as exc:
            outcomes.append(exc.status_code)
    assert outcomes == ["stop", 503, "stop", 503]


def test_refusal(server):
    server.faults = [Fault("refusal"), Fault("refusal")]
    msg = chat(oai(server)).choices[0]
    assert (msg.finish_reason, msg.message.content, msg.message.refusal) == ("stop", None, REFUSAL)
    out = message(ant(server))
    assert (out.stop_reason, out.content[0].text, out.stop_details.type) == ("refusal", REFUSAL, "refusal")


def test_truncated(server):
    server.faults = [Fault("truncated"), Fault("truncated")]
    choice = chat(oai(server)).choices[0]
    assert (choice.finish_reason, choice.message.content) == ("length", ANSWER[:49])
    out = message(ant(server))
    assert (out.stop_reason, out.content[0].input, out.usage.output_tokens) == ("max_tokens", {"r": ROWS[:1]}, 11)


@pytest.mark.parametrize(("fault", "expected"), [
    (Fault("invalid_label"), {"r": [{"n": 1, "c": "made-up", "s": "made-up"}, ROWS[1]]}),
    (Fault("invalid_label", variant="mismatch"), {"r": [{"n": 1, "c": "vitamins", "s": "protein-powder"}, ROWS[1]]}),
    (Fault("missing_product"), {"r": ROWS[:1]}),
    (Fault("schema_violation"), {"result": ROWS}),
    (Fault("schema_violation", variant="wrong_types"),
     {"r": [{"n": "1", "c": ["vitamins"], "s": None}, {"n": "2", "c": ["sports-nutrition"], "s": None}]}),
])
def test_answer_faults(server, fault, expected):
    server.faults = [fault, fault]
    assert json.loads(chat(oai(server)).choices[0].message.content) == expected
    assert message(ant(server)).content[0].input == expected


def test_not_json_bodies(server):
    server.faults = [Fault("not_json"), Fault("not_json"), Fault("not_json", variant="json")]
    lax = openai.OpenAI(api_key="test-key", base_url=f"{server.url}/v1", max_retries=0)
    assert chat(lax) == "<html>oops</html>"  # the lax SDK returns the text instead of a ChatCompletion
    with pytest.raises(openai.APIResponseValidationError):
        chat(oai(server))
    with pytest.raises(json.JSONDecodeError):  # not an SDK exception
        chat(oai(server))


def test_drop_is_a_connection_error_and_retried(server):
    server.faults = [Fault("drop"), Fault("drop")]
    with pytest.raises(openai.APIConnectionError):
        chat(oai(server))
    assert message(ant(server, max_retries=1)).stop_reason == "tool_use"
    assert server.model_calls == 3


def test_hang_times_out_the_async_clients(server):
    async def run():
        server.faults = [Fault("hang", seconds=1.0)] * 2
        async with openai.AsyncOpenAI(api_key="test-key", base_url=f"{server.url}/v1", max_retries=0,
                                      timeout=0.2) as client:
            with pytest.raises(openai.APITimeoutError):
                await client.chat.completions.create(model="m", messages=[{"role": "user", "content": USER}])
        async with anthropic.AsyncAnthropic(api_key="test-key", base_url=server.url, max_retries=0,
                                            timeout=0.2) as aclient:
            with pytest.raises(anthropic.APITimeoutError):
                await aclient.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": USER}])
    asyncio.run(run())


def test_64_concurrent_requests_overlap():
    async def run(server):
        async with openai.AsyncOpenAI(api_key="test-key", base_url=f"{server.url}/v1", max_retries=0) as client:
            calls = [client.chat.completions.create(model="m", messages=[{"role": "user", "content": USER}])
                     for _ in range(64)]
            return await asyncio.gather(*calls)

    with FakeAPIServer(latency=0.5) as server:
        start = time.monotonic()
        answers = asyncio.run(run(server))
        elapsed = time.monotonic() - start
    assert len(answers) == 64 and server.model_calls == 64
    assert 0.5 <= elapsed < 3.0  # serial would take 32 s


def test_unknown_fault_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown fault kind 'boom'"):
        Fault("boom")


def test_openai_batch_round_trip(server):
    client = oai(server)
    body = {"model": "m", "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]}
    lines = "".join(json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": body}) + "\n"
                    for cid in ("a", "b"))
    server.batch_item_faults = {"b": "errored"}
    file = client.files.create(file=("in.jsonl", lines.encode()), purpose="batch")
    assert (file.purpose, file.bytes, file.status) == ("batch", len(lines), "processed")
    batch = client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h")
    assert batch.status == "validating"
    assert client.batches.retrieve(batch.id).status == "in_progress"
    done = client.batches.retrieve(batch.id)
    assert (done.status, done.request_counts.completed, done.request_counts.failed) == ("completed", 1, 1)
    assert (done.usage.input_tokens, done.usage.output_tokens) == (520, 24)
    [out] = [json.loads(x) for x in client.files.content(done.output_file_id).text.splitlines()]
    assert (out["custom_id"], out["response"]["status_code"], out["error"]) == ("a", 200, None)
    assert out["response"]["body"]["choices"][0]["message"]["content"] == ANSWER
    [err] = [json.loads(x) for x in client.files.content(done.error_file_id).text.splitlines()]
    assert (err["custom_id"], err["response"]["status_code"]) == ("b", 500)
    assert [b.id for b in client.batches.list()] == [batch.id]
    assert server.usage_log[0]["batch"] is True


def test_openai_batch_expiry(server):
    client = oai(server)
    file = client.files.create(file=("in.jsonl", b'{"custom_id": "a", "body": {"messages": []}}\n'), purpose="batch")
    server.batch_expire, server.batch_polls_to_finish = True, 1
    batch = client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h")
    done = client.batches.retrieve(batch.id)
    assert (done.status, done.output_file_id, done.request_counts.failed) == ("expired", None, 1)
    assert json.loads(client.files.content(done.error_file_id).text)["error"]["code"] == "batch_expired"


def test_anthropic_batch_round_trip(server):
    client = ant(server)
    params = {"model": "m", "max_tokens": 100, "system": SYSTEM, "messages": [{"role": "user", "content": USER}],
              "tools": [TOOL], "tool_choice": {"type": "tool", "name": "answer"}}
    server.batch_item_faults = {"y": "expired"}
    batch = client.messages.batches.create(requests=[{"custom_id": "x", "params": params},
                                                     {"custom_id": "y", "params": params}])
    assert (batch.processing_status, batch.request_counts.processing, batch.results_url) == ("in_progress", 2, None)
    assert client.messages.batches.retrieve(batch.id).processing_status == "in_progress"
    results = {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}  # its retrieve ends it
    assert results["x"].type == "succeeded" and results["x"].message.content[0].input == {"r": ROWS}
    assert results["x"].message.usage.service_tier == "batch"
    assert results["y"].type == "expired"
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.results_url == f"{server.url}/v1/messages/batches/{batch.id}/results"
    assert (ended.processing_status, ended.request_counts.succeeded, ended.request_counts.expired) == ("ended", 1, 1)
    assert [b.id for b in client.messages.batches.list()] == [batch.id]


def test_standalone_main_prints_the_url_and_serves():
    script = Path(__file__).parents[1].joinpath("fakes", "fakeapi.py")
    with subprocess.Popen([sys.executable, str(script), "--port", "0", "--latency", "0"],
                          stdout=subprocess.PIPE, text=True) as proc:
        try:
            url = proc.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            with openai.OpenAI(api_key="test-key", base_url=f"{url}/v1", max_retries=0) as client:
                assert chat(client).choices[0].message.content == ANSWER
        finally:
            proc.terminate()
        assert proc.wait(timeout=5) == 0
