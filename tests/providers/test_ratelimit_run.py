"""Whole runs against a rate-limited fake API: paced at the learnt limit, not slowed when there is room, caps bind,
an exhausted quota still stops the run. Every assertion is on counts (the fake's or the run's), never on seconds."""

from __future__ import annotations

import pandas as pd
from fakeapi import Fault

from conftest import ROOT, write_models_yaml
from labnb.cost.duration_estimate import TYPICAL_LATENCY, Demand, DurationEstimate, limit_bound

SAMPLE = str(ROOT / "data" / "sample_products.csv")


def all_ok(result, n: int) -> None:
    assert result.code == 0, result.err
    table = pd.read_csv(result.run_dir / "outputs" / "classifications.csv", dtype=str, keep_default_na=False)
    assert len(table) == n and set(table["status"]) == {"ok"}


def same_usage_as_the_fake(result, fake_api) -> None:
    usage, served = result.json("outputs/token_usage.json"), fake_api.total_usage()
    assert (usage["total_prompt_tokens"], usage["total_completion_tokens"], usage["calls_made"]) == \
        (served["input_tokens"], served["output_tokens"], served["calls"])


def test_a_tight_request_limit_is_learnt_and_run_at_without_a_storm_of_429s(cli, fake_api):
    # 5 requests a second: slow enough that a loaded machine's scheduling jitter (the fake shares this
    # process) is small against the pacing interval.
    limits = fake_api.limit_rate(requests=10, window=2.0)
    result = cli("--input", SAMPLE, "--limit", "25")
    all_ok(result, 25)
    same_usage_as_the_fake(result, fake_api)
    refused = sum(limits.refused.values())
    assert refused <= 2 and limits.admitted == 25
    assert limits.lowest("requests") < 1  # the run drew the bucket down: it used the limit it was given
    usage, timing = result.json("outputs/token_usage.json"), result.json("outputs/timing.json")
    learnt = usage["rate_limits"]["limits"]["requests"]
    assert learnt["limit"] == 10 and 1.8 < learnt["window_seconds"] < 2.2 and learnt["source"] == "response headers"
    assert usage["rate_limits"]["rate_limited_responses"] == refused
    waited = timing["rate_limit"]
    assert waited["rate_limited_responses"] == refused and waited["rate_limit_waits"] > 0
    assert waited["rate_limit_wait_seconds"] > 0 and waited["concurrency"]["mode"] == "auto"
    assert "waiting for rate limit" in result.err  # the progress bar said so


def test_a_tight_token_limit_in_anthropic_headers(cli, fake_api):
    limits = fake_api.limit_rate(tokens=30_000, window=1.0)  # about 10 requests' worth; 20 requests to send
    result = cli("--model", "haiku", "--input", SAMPLE, "--limit", "20")
    all_ok(result, 20)
    same_usage_as_the_fake(result, fake_api)
    assert sum(limits.refused.values()) <= 2 and limits.admitted == 20
    assert limits.lowest("tokens") < 3_000  # less than one request's worth left at its lowest
    learnt = result.json("outputs/token_usage.json")["rate_limits"]["limits"]
    assert learnt["tokens"]["limit"] == 30_000 and 0.9 < learnt["tokens"]["window_seconds"] < 1.5
    assert learnt["input_tokens"]["limit"] == 30_000 and "requests" not in learnt


def test_generous_limits_never_hold_a_request_back(cli, fake_api):
    limits = fake_api.limit_rate(requests=10_000, tokens=100_000_000, window=60)
    result = cli("--input", SAMPLE, "--limit", "30")
    all_ok(result, 30)
    assert limits.refused == {} and limits.admitted == 30
    timing = result.json("outputs/timing.json")["rate_limit"]
    assert (timing["rate_limit_waits"], timing["rate_limit_wait_seconds"], timing["rate_limited_responses"]) == \
        (0, 0, 0)
    learnt = result.json("outputs/token_usage.json")["rate_limits"]["limits"]
    assert learnt["requests"]["limit"] == 10_000 and learnt["requests"]["window_seconds"] is None  # never used deep
    assert "waiting for rate limit" not in result.err


def test_models_yaml_caps_still_bind(cli, fake_api, tmp_path):
    # rpm 600: 10 a second with one second's burst. The fake allows the same rate with room for the two requests
    # in flight to overtake each other on the way (capacity 10 + 2 x (2 - 1)), and sends no headers to learn
    # from: only the cap can keep it from refusing a single request.
    models = write_models_yaml(tmp_path / "capped.yaml", gpt4o_mini={"rpm": 600})
    limits = fake_api.limit_rate(requests=12, window=1.2, headers=False)
    result = cli("--input", SAMPLE, "--limit", "24", "--concurrency", "2", models_config=models)
    all_ok(result, 24)
    assert limits.refused == {} and limits.admitted == 24
    timing = result.json("outputs/timing.json")["rate_limit"]
    assert timing["rate_limit_waits"] > 0 and timing["concurrency"] == {"mode": "fixed", "start": 2, "peak": 2,
                                                                         "final": 2}
    cap = result.json("outputs/token_usage.json")["rate_limits"]["limits"]["cap_requests"]
    assert (cap["per_minute"], cap["source"], cap["limit"]) == (600, "models.yaml cap", 10)


def test_exhausted_quota_still_stops_an_auto_concurrency_run_at_once(cli, fake_api):
    fake_api.limit_rate(requests=1000, window=60)
    quota = Fault("status", status=429, error_type="insufficient_quota", error_code="insufficient_quota")
    fake_api.faults = [quota] * 50
    result = cli("--input", SAMPLE, "--limit", "40")
    assert result.code == 3 and "no quota left" in result.err
    assert result.json("metadata/run_summary.json")["status"] == "failed"
    assert 1 <= fake_api.model_calls <= 8  # the first wave; nothing retried, nothing new started
    assert result.json("outputs/token_usage.json")["rate_limits"]["rate_limited_responses"] == 0  # not a rate limit


def test_dry_run_estimates_the_duration_from_the_last_run_with_the_model(cli, fake_api):
    fresh = cli("--input", SAMPLE, "--dry-run")
    row, note = fresh.out.splitlines()[2].split(), fresh.out.splitlines()[-1]
    # 86 requests in auto waves of 8, 16, 32 and 64, at a typical latency.
    assert row[8] == DurationEstimate(4 * TYPICAL_LATENCY, "").text == "~4s"
    assert "'time (est.)' is an estimate, from concurrency auto (8 to 64) and a typical latency of 1 s" in note
    fake_api.limit_rate(requests=10, window=1.0)
    run = cli("--input", SAMPLE, "--limit", "12", "--no-cache")  # all 86 requests still to send in the dry run
    assert run.code == 0, run.err
    planned = cli("--input", SAMPLE, "--dry-run")
    row, note = planned.out.splitlines()[2].split(), planned.out.splitlines()[-1]
    learnt = run.json("outputs/token_usage.json")["rate_limits"]["limits"]
    latency = run.json("outputs/timing.json")["latency_p50_ms"] / 1000
    expected = limit_bound(Demand(86, 0, 0), learnt, latency)  # (86 - 10) / the learnt rate + one latency
    assert 7 < expected < 10 and row[8] == DurationEstimate(expected, "").text
    assert f"from run {run.run_dir.name} (limits learnt: requests 10 per " in note
