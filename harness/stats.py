"""The one percentile function of the benchmarks, and a summary that names its sample count.

A tail percentile is only claimed when at least ten samples lie beyond it (1,000 samples for a
p99, 100 for a p90): from fewer, "p99" would be the largest value or the one below it under
another name. The summary then prints the maximum, called so, beside the sample count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

BEYOND = 10  # samples that must lie beyond a tail percentile for it to be quoted


class TooFewSamples(ValueError):
    """A percentile asked of fewer samples than it needs."""

    def __init__(self, p: float, have: int) -> None:
        super().__init__(f"p{p:g} needs at least {min_samples(p):,} samples, got {have:,}")
        self.p = p
        self.have = have


def min_samples(p: float) -> int:
    """Samples needed to quote the p-th percentile: 1,000 for p99, 100 for p90, 1 up to p50."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {p}")
    if p <= 50:
        return 1
    if p == 100:
        raise ValueError("p100 is the maximum: ask for max()")
    return math.ceil(round(BEYOND * 100 / (100 - p), 6))  # round: 100 - 99.9 is not 0.1


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile by nearest rank (a value that was measured, never interpolated).

    Raises TooFewSamples when there are too few values to quote it (see `min_samples`)."""
    if not values:
        raise TooFewSamples(p, 0)
    if len(values) < min_samples(p):
        raise TooFewSamples(p, len(values))
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Summary:
    """p50, p99 (None when too few samples to quote it), max and the count, in one unit."""

    n: int
    p50: float
    p99: float | None
    max: float
    unit: str

    def text(self, digits: int = 1) -> str:
        """`n=1,200 p50 3.1 ms, p99 9.8 ms, max 12.0 ms`, or `n=50 p50 3.1 ms, max 4.0 ms`."""
        def fmt(x: float) -> str:
            return f"{x:,.{digits}f} {self.unit}".rstrip()

        tail = f"p99 {fmt(self.p99)}, " if self.p99 is not None else ""
        return f"n={self.n:,} p50 {fmt(self.p50)}, {tail}max {fmt(self.max)}"

    def as_dict(self) -> dict[str, float | int | str | None]:
        return {"n": self.n, "p50": self.p50, "p99": self.p99, "max": self.max, "unit": self.unit}


def summarize(values: Sequence[float], unit: str = "ms", scale: float = 1.0) -> Summary:
    """The summary of `values` multiplied by `scale` (e.g. 1000 for seconds shown in ms)."""
    if not values:
        raise TooFewSamples(50, 0)
    scaled = [v * scale for v in values]
    p99 = percentile(scaled, 99) if len(scaled) >= min_samples(99) else None
    return Summary(n=len(scaled), p50=percentile(scaled, 50), p99=p99, max=max(scaled), unit=unit)
