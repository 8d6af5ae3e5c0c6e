"""The client's pacing decisions on a clock we move by hand: header learning, caps, AIMD, auto concurrency."""

from __future__ import annotations

import asyncio

import httpx2
import pytest

from labnb.errors import UsageError
from labnb.pacing.concurrency import AUTO_MAX, Slots, parse_concurrency
from labnb.pacing.ratelimit import RESERVE_MIN, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def openai_headers(limit: int, remaining: int, reset: str, kind: str = "requests") -> httpx2.Headers:
    return httpx2.Headers({f"x-ratelimit-limit-{kind}": str(limit), f"x-ratelimit-remaining-{kind}": str(remaining),
                           f"x-ratelimit-reset-{kind}": reset})


def take(limiter: RateLimiter, n: int, tokens: int = 0) -> list:
    """``n`` tickets that must not wait (acquire would sleep if they had to)."""
    tickets = []
    for _ in range(n):
        assert limiter.delay(limiter._costs(tokens), limiter.clock()) == 0
        tickets.append(asyncio.run(limiter.acquire(tokens)))
    return tickets


def test_nothing_learnt_and_no_caps_never_waits():
    limiter = RateLimiter(clock=Clock())
    take(limiter, 500, tokens=10**6)
    assert limiter.stats.rate_limit_waits == 0 and limiter.buckets == {}


def test_headers_teach_the_bucket_size_and_refill_rate_and_pace_at_it():
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    tickets = take(limiter, 4)
    # A 100-request bucket that refills 20 a second (a 5 s window), 43 used when our 4 requests arrived.
    for ticket, remaining in zip(tickets, (60, 59, 58, 57)):
        limiter.observe(200, openai_headers(100, remaining, f"{(100 - remaining) / 20:g}s"), ticket.stamp)
    bucket = limiter.buckets["requests"]
    assert bucket.capacity == 100 and bucket.rate == pytest.approx(20.0, rel=0.02)  # remaining is rounded down
    assert bucket.level == pytest.approx(57)
    take(limiter, 56)  # 1 of 100 is held back
    costs = limiter._costs(0)
    assert limiter.delay(costs, clock.now) == pytest.approx(1.0 / bucket.rate)
    clock.now += 1.0 / bucket.rate
    assert limiter.delay(costs, clock.now) == pytest.approx(0, abs=1e-9)
    assert limiter.snapshot().limits["requests"]["limit"] == 100


def test_a_later_answer_counts_what_was_sent_since_and_what_it_overtook():
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    first, second, third = take(limiter, 3)
    # The third request overtook the other two: the provider counted it alone (99 left).
    limiter.observe(200, openai_headers(100, 99, "20ms"), third.stamp)
    assert limiter.buckets["requests"].rate is None  # one request used: too little to measure the refill
    limiter.observe(200, openai_headers(100, 50, "2.5s"), first.stamp)
    # 50 left when the first arrived, the other two not counted yet.
    assert limiter.buckets["requests"].level == pytest.approx(48)
    limiter.observe(200, openai_headers(100, 49, "2.55s"), second.stamp)
    assert limiter.buckets["requests"].level == pytest.approx(48)


def test_a_429_doubles_the_reserve_once_and_successes_give_it_back():
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    tickets = take(limiter, 3)
    clock.now += 0.1
    for ticket in tickets[:2]:  # two 429s of requests sent before the first one came back: one step up
        limiter.observe(429, openai_headers(100, 0, "5s"), ticket.stamp)
    assert limiter.reserve == pytest.approx(3 * RESERVE_MIN) and limiter.stats.rate_limited_responses == 2
    assert limiter.blind_429s == 0  # the headers say what to do: concurrency stays
    for _ in range(10):
        limiter.observe(200, openai_headers(100, 0, "5s"), tickets[2].stamp)
    assert limiter.reserve == pytest.approx(RESERVE_MIN)


def test_a_429_without_headers_holds_every_request_for_its_retry_after():
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    [ticket] = take(limiter, 1)
    limiter.observe(429, httpx2.Headers({"retry-after": "2"}), ticket.stamp)
    assert limiter.blind_429s == 1 and limiter.stats.retry_after_seconds == 2
    assert limiter.delay(limiter._costs(0), clock.now) == pytest.approx(2.0)


def test_models_yaml_caps_bind_evenly_with_one_second_of_burst():
    clock = Clock()
    limiter = RateLimiter(rpm=600, tpm=60_000, clock=clock)  # 10 requests and 1,000 tokens a second
    take(limiter, 10)
    assert limiter.delay(limiter._costs(0), clock.now) == pytest.approx(0.1)
    clock.now += 10
    take(limiter, 2, tokens=500)
    assert limiter.delay(limiter._costs(500), clock.now) == pytest.approx(0.5)
    clock.now += 0.5
    take(limiter, 1, tokens=500)
    assert set(limiter.snapshot().limits) == {"cap_requests", "cap_tokens"}
    assert limiter.snapshot().limits["cap_requests"]["per_minute"] == 600


def test_usage_calibrates_token_estimates():
    limiter = RateLimiter(clock=Clock())
    limiter.observe_usage(1000, 800, 20)
    assert limiter._costs(1000) == (1.0, 800.0, 20.0)
    limiter.observe_usage(1000, 1300, 20)
    assert limiter._costs(1000) == pytest.approx((1.0, 900.0, 20.0))


def test_auto_concurrency_grows_while_it_pays_and_halves_on_blind_429s():
    async def scenario() -> tuple[int, int, int, int]:
        slots = Slots("auto")
        for _ in range(8):
            await slots.enter()
        queued = [asyncio.create_task(slots.enter()) for _ in range(100)]
        await asyncio.sleep(0)
        slots.finished(0.2, 0, False)
        grown = slots.target
        for _ in range(200):
            slots.finished(0.2, 0, False)
        capped = slots.target
        slots.finished(0.2, 0, True)  # the rate limiter is holding requests: more slots would not help
        slots.finished(0.5, 0, False)
        held = slots.target
        slots.finished(0.2, 1, False)
        halved = slots.target
        for task in queued:
            task.cancel()
        return grown, capped, held, halved

    assert asyncio.run(scenario()) == (9, AUTO_MAX, AUTO_MAX, AUTO_MAX // 2)


def test_concurrency_is_auto_or_a_positive_number():
    assert parse_concurrency("auto") == "auto" and parse_concurrency("16") == 16 and parse_concurrency(None) == "auto"
    for bad, message in (("0", "at least 1"), ("many", "'auto' or a number")):
        with pytest.raises(UsageError, match=message):
            parse_concurrency(bad)


def test_auto_concurrency_keeps_a_queueing_server_busy_and_no_more():
    """A headerless one-slot server answers the k-th of n queued requests after k x 1 s: latency grows with the
    number in flight, and auto comes down to what keeps it busy plus one waiting; a server with headers does not
    (its limits pace it), and answers from the response cache (no request sent) teach nothing."""
    async def scenario(paced: bool) -> tuple[int, int]:
        slots = Slots("auto")
        for _ in range(8):
            await slots.enter()
        queued = [asyncio.create_task(slots.enter()) for _ in range(100)]
        await asyncio.sleep(0)
        slots.finished(0.001, 0, False, load=1, sent=False)  # a cache hit before the first request
        for k in range(1, 9):  # the first wave: the k-th waited for k - 1 ahead of it
            slots.finished(float(k), 0, False, load=k, paced=paced)
        first_cut = slots.target
        for _ in range(40):  # from then on each finds about ``target`` in the server: a latency of that many
            load = slots.target
            slots.finished(float(load), 0, False, load=load, paced=paced)
            slots.finished(0.001, 0, False, load=load, sent=False)
        for task in queued:
            task.cancel()
        return first_cut, slots.target

    assert asyncio.run(scenario(paced=False)) == (2, 2)
    described = Slots("auto")
    assert "decided" not in described.describe()
    assert asyncio.run(scenario(paced=True))[1] >= 8  # headers present: latency does not lower it (as before)


def test_auto_concurrency_measures_by_the_servers_own_time_and_halves_on_timeouts():
    """llama-server says how long it worked on each request (``timings``): a slow first request (a cold prompt
    cache) does not hide the queue behind it. A timeout at a headerless server halves, once per round trip."""
    async def scenario(paced: bool) -> tuple[int, int, int, float, str]:
        slots = Slots("auto")
        for _ in range(8):
            await slots.enter()
        queued = [asyncio.create_task(slots.enter()) for _ in range(100)]
        await asyncio.sleep(0)
        slots.finished(15.0, 0, False, load=1, service=15.0, paced=paced)  # cold: the whole prompt read
        for k in range(2, 9):  # then 2 s each, behind the 15 s one and each other: latency >> the server's time
            slots.finished(15.0 + 2 * (k - 1), 0, False, load=k, service=2.0, paced=paced)
        cut = slots.target
        slots.finished(300.0, 0, False, load=cut, timeouts=1, paced=paced)  # a call got no answer in time
        slots.finished(300.0, 0, False, load=cut, timeouts=2, paced=paced)  # the same round trip: not again
        for task in queued:
            task.cancel()
        return cut, slots.target, slots.overload_cuts, round(slots.served or 0.0, 2), \
            slots.describe().get("decided", "")

    # Without the server's time, the best latency seen (15 s) would hide the queue: 29 s is below 2 x 15 s.
    cut, after, overloads, busy, decided = asyncio.run(scenario(paced=False))
    assert (cut, after, overloads) == (2, 1, 1) and 0 < busy < 1.5  # the cold one's wait makes it look lower
    assert decided == (f"the server queued requests (latency grew with the number in flight): kept 1 in flight, "
                       f"as about {busy:.1f} keep it busy; halved 1 time after timeouts or 429s without rate-limit "
                       "headers (1 in flight at the end)")
    cut, after, overloads, _, decided = asyncio.run(scenario(paced=True))  # rate-limit headers: they set the pace
    assert cut == after >= 8 and overloads == 0 and decided == ""


def test_auto_concurrency_probes_a_server_of_the_users_own_with_one_request():
    async def scenario(paced: bool) -> tuple[int, int]:
        slots = Slots("auto", probe=True)
        await slots.enter()
        queued = [asyncio.create_task(slots.enter()) for _ in range(20)]
        await asyncio.sleep(0)
        first = slots.target
        slots.finished(1.0, 0, False, load=1, paced=paced)
        for task in queued:
            task.cancel()
        return first, slots.target

    assert asyncio.run(scenario(paced=True)) == (1, 9)  # rate-limit headers: 8 as usual, +1 for the answer (as before)
    assert asyncio.run(scenario(paced=False)) == (1, 2)  # none: slow start from 1
    assert Slots("auto", probe=True).describe()["start"] == 1 and Slots("auto").describe()["start"] == 8


def test_auto_concurrency_keeps_a_slow_servers_queue_within_half_the_deadline():
    """A CPU server at 188 s an answer with a 300 s timeout: a second request in flight would wait 188 s and then
    take its own, past the deadline, so auto stays at 1 (and says why); at 1 s an answer it grows."""
    async def scenario(alone: float) -> tuple[int, str]:
        slots = Slots("auto", probe=True, deadline=300.0)
        await slots.enter()
        queued = [asyncio.create_task(slots.enter()) for _ in range(20)]
        await asyncio.sleep(0)
        slots.finished(alone, 0, False, load=1, service=alone)
        for task in queued:
            task.cancel()
        return slots.target, slots.describe().get("decided", "")

    assert asyncio.run(scenario(188.0)) == (1, "kept to 1 in flight: with more, a request could wait past half the "
                                                "300 s timeout")
    assert asyncio.run(scenario(1.0)) == (2, "")


def test_a_fast_error_answer_does_not_lower_the_latency_yardstick():
    """A server without ``timings`` is judged against the best latency seen: a context 400 that comes back in 10 ms
    must not become that yardstick (every later answer would then look queued). Its timeout still halves."""
    async def scenario(error_answered: bool) -> tuple[int, float, int]:
        slots = Slots("auto", probe=True)
        await slots.enter()
        queued = [asyncio.create_task(slots.enter()) for _ in range(50)]
        await asyncio.sleep(0)
        slots.finished(1.0, 0, False, load=1)  # the probe: 1 s alone
        for _ in range(5):  # five prompts over the context size: each refused at once
            slots.finished(0.01, 0, False, load=2, answered=error_answered)
        for k in range(2, 8):  # then 1 s answers, as many in flight as the target: no queue
            slots.finished(1.0, 0, False, load=k)
        grown = slots.target
        slots.finished(300.0, 0, False, load=grown, timeouts=1, answered=False)  # no answer within the deadline
        for task in queued:
            task.cancel()
        return grown, round(slots.describe()["best_latency_s"], 3), slots.target

    grown, best, after_timeout = asyncio.run(scenario(error_answered=False))
    assert (grown, best, after_timeout) == (8, 1.0, 4)  # one more per answer (slow start); the timeout halves
    grown, best, _ = asyncio.run(scenario(error_answered=True))  # as before the fix: the 10 ms became the yardstick
    assert grown < 8 and best < 0.5
