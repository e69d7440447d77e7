"""Delta: what changed since the snapshot an edge holds. A patch of the last snapshot for
the residents a change touched, and the credential delta sent before the next snapshot.
Pure (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wire import CardCredential as WireCard
from wire import PermissionDelta, SnapshotContent


@dataclass(frozen=True, slots=True)
class Published:
    """What this process last published for an edge: the base of its next patch and delta."""

    version: int
    hash: str
    content: SnapshotContent
    cards: dict[str, WireCard]  # by card number


# every field but the credentials: when one of them changes, no patch and no delta
HEAD = tuple(sorted(set(SnapshotContent.model_fields) - {"credentials"}))


def by_card(content: SnapshotContent) -> dict[str, WireCard]:
    return {c.card: c for c in content.credentials}


def delta(
    last: Published, base: tuple[int, str], content: SnapshotContent,
    cards: dict[str, WireCard], version: int, digest: str, issued_at: datetime,
) -> PermissionDelta | None:
    """The credentials changed since `last`, if `last` is the base the edge should hold (the
    version and hash the database had) and nothing but credentials changed; else None."""
    if (last.version, last.hash) != base:
        return None
    if any(getattr(last.content, f) != getattr(content, f) for f in HEAD):
        return None
    old = last.cards
    upsert = [c for c in content.credentials
              if (o := old.get(c.card)) is None or (o is not c and o.__dict__ != c.__dict__)]
    remove = sorted(card for card in old if card not in cards)
    return PermissionDelta.model_construct(
        site=content.site, edge=content.edge, base_version=base[0], base_hash=base[1],
        version=version, hash=digest, issued_at=issued_at, upsert=upsert, remove=remove,
    )


def merge(last: Published, part: SnapshotContent, residents: set[int]) -> SnapshotContent | None:
    """`last` with the cards of `residents` replaced by those in `part` (compiled for just
    them), or None when anything but their cards differs."""
    if any(getattr(last.content, f) != getattr(part, f) for f in HEAD):
        return None
    cards = {n: c for n, c in last.cards.items() if c.resident_id not in residents}
    for cred in part.credentials:
        cards[cred.card] = cred
    fields = {f: getattr(part, f) for f in HEAD}
    return SnapshotContent.model_construct(
        **fields, credentials=[cards[n] for n in sorted(cards)])


__all__ = ["HEAD", "Published", "by_card", "delta", "merge"]
