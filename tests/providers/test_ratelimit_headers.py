"""The fake API's rate limits and headers, and our reading of them (both providers' formats)."""

from __future__ import annotations

import anthropic
import httpx2
import openai
import pytest
from fakeapi_ratelimit import RateLimiter as ServerLimiter
from fakeapi_ratelimit import RateLimits, go_duration, rfc3339

from conftest import TEST_KEY
from labnb.pacing.ratelimit_headers import Reading, duration_seconds, readings, rfc3339_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("text", "seconds"), [
    ("1.2s", 1.2), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("0s", 0.0), ("2", 2.0), ("450us", 0.00045),
])
def test_go_durations_as_openai_writes_them(text, seconds):
    assert duration_seconds(text) == pytest.approx(seconds)


def test_bad_durations_and_times_are_not_guessed():
    assert duration_seconds("soon") is None and duration_seconds("1.2 s") is None
    assert rfc3339_seconds("tomorrow") is None and rfc3339_seconds("2026-12-01T19:05:03") is None  # no zone


def test_fake_formats_round_trip_through_our_parser():
    assert [go_duration(s) for s in (0.02, 1.2, 360, 3723.5, 59.9995)] == ["20ms", "1.2s", "6m0s", "1h2m3.5s", "1m0s"]
    assert rfc3339(1_796_151_903.25) == "2026-12-01T19:05:03.250Z"
    assert rfc3339_seconds("2026-12-01T19:05:03.250Z", now=1_796_151_900.0) == pytest.approx(3.25)


def test_buckets_start_full_refill_continuously_and_say_so_in_openai_headers():
    clock = Clock()
    server = ServerLimiter(RateLimits(requests=10, tokens=1000, window=5.0), clock=clock)
    for _ in range(3):
        verdict = server.check("openai", 90, 10)
    assert verdict.admitted and verdict.headers == {
        "x-ratelimit-limit-requests": "10", "x-ratelimit-remaining-requests": "7", "x-ratelimit-reset-requests": "1.5s",
        "x-ratelimit-limit-tokens": "1000", "x-ratelimit-remaining-tokens": "700", "x-ratelimit-reset-tokens": "1.5s",
    }
    clock.now += 0.25  # 0.5 requests and 50 tokens flow back in
    verdict = server.check("openai", 90, 10)
    assert (verdict.headers["x-ratelimit-remaining-requests"], verdict.headers["x-ratelimit-reset-requests"]) == \
        ("6", "1.75s")
    assert verdict.headers["x-ratelimit-remaining-tokens"] == "650"
    clock.now += 600  # full again, never more than full
    verdict = server.check("openai", 90, 10)
    assert verdict.headers["x-ratelimit-remaining-requests"] == "9"
    assert readings(verdict.headers.items()) == [Reading("requests", 10, 9, 0.5), Reading("tokens", 1000, 900, 0.5)]


def test_a_request_over_the_limit_is_refused_with_retry_after_and_not_counted():
    clock = Clock()
    server = ServerLimiter(RateLimits(tokens=1000, window=10.0), clock=clock)
    assert server.check("anthropic", 700, 100).admitted
    refused = server.check("anthropic", 250, 50)  # 300 > 200 left; 100 more take 1 s
    assert not refused.admitted and refused.kind == "tokens" and refused.retry_after == pytest.approx(1.0)
    assert refused.headers["retry-after"] == "1" and server.refused == {"tokens": 1} and server.admitted == 1
    assert refused.headers["anthropic-ratelimit-tokens-remaining"] == "200"
    assert refused.headers["anthropic-ratelimit-input-tokens-remaining"] == "300"
    assert refused.headers["anthropic-ratelimit-output-tokens-remaining"] == "900"
    [tokens] = [r for r in readings(refused.headers.items()) if r.kind == "tokens"]
    assert (tokens.limit, tokens.remaining) == (1000, 200) and 7.5 < tokens.reset <= 8.0  # RFC 3339 from the wall clock


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_real_sdks_see_the_429_the_provider_would_send(api_env, provider):
    api_env.limit_rate(requests=1, window=3600)
    if provider == "openai":
        client = openai.OpenAI(api_key=TEST_KEY, base_url=f"{api_env.url}/v1", max_retries=0)
        call = lambda: client.chat.completions.with_raw_response.create(  # noqa: E731
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    else:
        client = anthropic.Anthropic(api_key=TEST_KEY, base_url=api_env.url, max_retries=0)
        call = lambda: client.messages.with_raw_response.create(  # noqa: E731
            model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    first = call()
    prefix = "x-ratelimit-" if provider == "openai" else "anthropic-ratelimit-"
    assert sorted(k for k in first.headers if k.startswith(prefix)) == sorted(
        ["x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"]
        if provider == "openai" else
        ["anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining",
         "anthropic-ratelimit-requests-reset"])
    with pytest.raises(openai.RateLimitError if provider == "openai" else anthropic.RateLimitError) as err:
        call()
    response = err.value.response
    assert response.status_code == 429 and response.headers["retry-after"] == "3600"
    body = err.value.body
    if provider == "openai":
        assert body["code"] == "rate_limit_exceeded" and body["type"] == "requests"
        assert "on requests per min (RPM): Limit 1, Used 1, Requested 1" in body["message"]
    else:
        assert body["error"]["type"] == "rate_limit_error" and body["type"] == "error"
    assert api_env.rate.refused == {"requests": 1} and api_env.model_calls == 1
    assert [r.kind for r in readings(httpx2.Headers(response.headers).items())] == ["requests"]
