"""The benchmarks' one percentile function: nearest rank, and no p99 from too few samples."""

from __future__ import annotations

import pytest

from harness.stats import TooFewSamples, min_samples, percentile, summarize


def test_samples_needed_leave_ten_beyond_the_percentile() -> None:
    assert min_samples(50) == 1
    assert min_samples(90) == 100
    assert min_samples(99) == 1000
    assert min_samples(99.9) == 10_000


def test_nearest_rank_returns_a_measured_value() -> None:
    values = list(range(1, 1001))  # 1 .. 1000
    assert percentile(values, 50) == 500
    assert percentile(values, 99) == 990
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0


def test_a_p99_from_fewer_than_1000_samples_is_refused() -> None:
    with pytest.raises(TooFewSamples, match="p99 needs at least 1,000 samples, got 999"):
        percentile(list(range(999)), 99)


def test_the_summary_calls_the_largest_of_few_samples_max_and_names_the_count() -> None:
    few = summarize([0.010, 0.020, 0.200], "ms", 1000)
    assert few.p99 is None
    assert few.text(0) == "n=3 p50 20 ms, max 200 ms"

    enough = summarize([i / 1000 for i in range(1, 1001)], "ms", 1000)
    assert enough.p99 == pytest.approx(990)
    assert enough.text(0) == "n=1,000 p50 500 ms, p99 990 ms, max 1,000 ms"


def test_no_samples_no_figure() -> None:
    with pytest.raises(TooFewSamples):
        summarize([])
    with pytest.raises(ValueError, match="p100 is the maximum"):
        percentile([1.0], 100)
