"""Hub → edge on `stored`: the sequence numbers a hub worker has committed for that edge,
each with the digest of the very message it committed.

Only these leave the edge's outbox; a broker's PUBACK is not storage. Ranges are inclusive,
sorted and disjoint; several hub workers each confirm what they stored themselves. A sequence
number alone is not enough: a message carrying the edge's seq that is not the edge's message
(forged, or from an earlier life of a wiped outbox) must not let the real one go. So the edge
removes a message only when the digest of its own bytes is the one confirmed for its seq."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

from pydantic import Field, field_validator, model_validator

from wire._base import Name, UtcDatetime, WireModel

SEQ_MAX = 2**63 - 1
RANGES_MAX = 10_000
DIGEST_HEX = 16  # 64 bits of BLAKE2b: a second message with the same digest cannot be made
DIGESTS_MAX = 20_000  # sequence numbers confirmed in one message

SeqRange = tuple[int, int]


def payload_digest(payload: bytes) -> str:
    """The digest both sides compute of a message's exact bytes (as sent, as received)."""
    return hashlib.blake2b(payload, digest_size=DIGEST_HEX // 2).hexdigest()


class StoredRanges(WireModel):
    site: Name
    edge: Name
    ts: UtcDatetime
    ranges: list[SeqRange] = Field(max_length=RANGES_MAX)
    # one payload_digest() per sequence number of `ranges`, in their order, end to end
    digests: str = Field(max_length=DIGESTS_MAX * DIGEST_HEX, pattern=r"^[0-9a-f]*$")
    # Set when the edge reported writing below what the hub knows it used (its outbox was
    # wiped, or restored from an old copy): it continues numbering after this one, so that
    # no number means two messages from here on.
    seq_floor: int | None = Field(default=None, ge=0, le=SEQ_MAX)

    @model_validator(mode="after")
    def _a_digest_each(self) -> StoredRanges:
        if not self.ranges and self.seq_floor is None:
            raise ValueError("ranges: at least one range (or a seq_floor) is needed")
        count = sum(last - first + 1 for first, last in self.ranges)
        if len(self.digests) != count * DIGEST_HEX:
            raise ValueError(f"digests: {count} sequence numbers need {count * DIGEST_HEX} hex "
                             f"digits, got {len(self.digests)}")
        return self

    def confirmed(self) -> Iterator[tuple[int, str]]:
        """Each (seq, digest) confirmed, in order."""
        at = 0
        for first, last in self.ranges:
            for seq in range(first, last + 1):
                yield seq, self.digests[at:at + DIGEST_HEX]
                at += DIGEST_HEX

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


def stored_bodies(site: str, edge: str, ts: object, confirmed: Iterable[tuple[int, str]]
                  ) -> list[StoredRanges]:
    """The messages confirming these (seq, digest) pairs: duplicates dropped; a seq committed
    with two different messages (a wiped outbox's old and new life, a forgery) is confirmed
    once per digest, in a later message, since one message gives each seq one digest."""
    layers: list[dict[int, str]] = []
    for seq, digest in sorted(set(confirmed)):
        for layer in layers:
            if seq not in layer:
                layer[seq] = digest
                break
        else:
            layers.append({seq: digest})
    bodies = []
    for layer in layers:
        seqs = sorted(layer)
        for start in range(0, len(seqs), DIGESTS_MAX):
            chunk = seqs[start:start + DIGESTS_MAX]
            ranges = to_ranges(chunk)
            for at in range(0, len(ranges), RANGES_MAX):
                part = ranges[at:at + RANGES_MAX]
                digests = "".join(layer[s] for first, last in part
                                  for s in range(first, last + 1))
                bodies.append(StoredRanges.model_validate(
                    {"site": site, "edge": edge, "ts": ts, "ranges": part, "digests": digests}))
    return bodies


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
