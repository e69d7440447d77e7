"""Hub → edge on `stored`: the sequence numbers a hub worker has committed for that edge.

Only these leave the edge's outbox; a broker's PUBACK is not storage. Ranges are inclusive,
sorted and disjoint; several hub workers each confirm what they stored themselves."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field, field_validator

from wire._base import Name, UtcDatetime, WireModel

SEQ_MAX = 2**63 - 1
RANGES_MAX = 10_000

SeqRange = tuple[int, int]


class StoredRanges(WireModel):
    site: Name
    edge: Name
    ts: UtcDatetime
    ranges: list[SeqRange] = Field(min_length=1, max_length=RANGES_MAX)

    @field_validator("ranges")
    @classmethod
    def _ordered(cls, ranges: list[SeqRange]) -> list[SeqRange]:
        previous = -1
        for first, last in ranges:
            if not 0 <= first <= last <= SEQ_MAX:
                raise ValueError(f"range [{first}, {last}] is not 0 <= first <= last <= 2^63-1")
            if first <= previous:
                raise ValueError(f"range [{first}, {last}] overlaps or precedes the one before")
            previous = last
        return ranges


def to_ranges(seqs: Iterable[int]) -> list[SeqRange]:
    """Sorted, merged inclusive ranges of the given sequence numbers."""
    out: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if out and seq == out[-1][1] + 1:
            out[-1][1] = seq
        else:
            out.append([seq, seq])
    return [(a, b) for a, b in out]


def merge_ranges(ranges: Iterable[SeqRange]) -> list[SeqRange]:
    """Overlapping or touching inclusive ranges joined, sorted."""
    out: list[list[int]] = []
    for first, last in sorted(ranges):
        if out and first <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], last)
        else:
            out.append([first, last])
    return [(a, b) for a, b in out]
