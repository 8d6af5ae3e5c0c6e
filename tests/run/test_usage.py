"""Token usage arithmetic and pricing."""

import pytest

from labnb.config import Pricing
from labnb.cost.usage import Usage, price

HAIKU = Pricing(input=1.0, cached_input=0.1, cache_write=1.25, output=5.0, batch_discount=0.5)


def test_cost_splits_uncached_cached_and_cache_write_tokens():
    # 10,000 input tokens of which 6,000 read from cache and 2,000 written to it; 1,000 output.
    cost = price(Usage(10_000, 1_000, 6_000, 2_000), HAIKU)
    assert cost.uncached_input == pytest.approx(2_000 * 1.0 / 1e6)
    assert cost.cached_input == pytest.approx(6_000 * 0.1 / 1e6)
    assert cost.cache_write == pytest.approx(2_000 * 1.25 / 1e6)
    assert cost.output == pytest.approx(1_000 * 5.0 / 1e6)
    assert cost.total == pytest.approx(0.002 + 0.0006 + 0.0025 + 0.005)


def test_batch_discount_halves_every_part():
    full, batch = price(Usage(1_000_000, 1_000_000), HAIKU), price(Usage(1_000_000, 1_000_000), HAIKU, batch=True)
    assert full.total == pytest.approx(6.0) and batch.total == pytest.approx(3.0)
    assert batch.to_dict()["batch_discount_applied"] is True


def test_usage_adds_and_round_trips():
    total = Usage(10, 2, 4, 1) + Usage(5, 3, 0, 0)
    assert total == Usage(15, 5, 4, 1) and total.total_tokens == 20
    assert Usage.from_dict(total.to_dict()) == total
