"""A permission delta moves the cache from its exact base to the next version, or changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.access.cache import PermissionCache
from edge.access.errors import SnapshotRejectedError
from tests.edge.access.snapshots import snapshot
from wire import CardCredential, PermissionDelta

LATER = datetime(2025, 3, 2, tzinfo=UTC)


def delta_from(base_version: int, base_hash: str, **changes: object) -> PermissionDelta:
    return PermissionDelta(site="garden-court", edge="building-3", base_version=base_version,
                           base_hash=base_hash, version=base_version + 1, hash="b" * 64,
                           issued_at=LATER, **changes)  # type: ignore[arg-type]


def test_delta_applies_to_its_base_and_survives_a_restart(tmp_path: Path) -> None:
    base = snapshot()
    with PermissionCache(tmp_path / "p.db") as cache:
        cache.apply(base)
        cache.apply_delta(delta_from(1, base.hash, remove=["B2"], upsert=[
            CardCredential(card="A1", resident_id=101, status="revoked", groups=[1]),
            CardCredential(card="Z9", resident_id=300, groups=[2]),
        ]))
        assert (cache.version, cache.hash) == (2, "b" * 64)
        assert cache.lookup_card("A1").status == "revoked"  # type: ignore[union-attr]
        assert cache.lookup_card("B2") is None and cache.lookup_card("Z9") is not None
        assert cache.lookup_card("R1") is not None  # untouched credentials stay
    with PermissionCache(tmp_path / "p.db") as reopened:
        assert reopened.version == 2
        assert reopened.lookup_card("A1").status == "revoked"  # type: ignore[union-attr]
        assert reopened.lookup_card("B2") is None


def test_delta_on_another_base_or_with_unknown_groups_changes_nothing(tmp_path: Path) -> None:
    base = snapshot()
    with PermissionCache(tmp_path / "p.db") as cache:
        cache.apply(base)
        with pytest.raises(SnapshotRejectedError, match="does not apply"):
            cache.apply_delta(delta_from(1, "c" * 64, remove=["A1"]))
        with pytest.raises(SnapshotRejectedError, match="unknown groups"):
            cache.apply_delta(delta_from(1, base.hash, upsert=[
                CardCredential(card="A1", groups=[99])]))
        assert (cache.version, cache.hash) == (1, base.hash)
        assert cache.lookup_card("A1").status == "active"  # type: ignore[union-attr]


def test_delta_must_move_forward_and_name_each_card_once() -> None:
    with pytest.raises(ValueError, match="twice"):
        delta_from(1, "a" * 64, remove=["A1"], upsert=[CardCredential(card="A1")])
    with pytest.raises(ValueError, match="does not follow"):
        PermissionDelta(site="s", edge="e", base_version=3, base_hash="a" * 64, version=3,
                        hash="b" * 64, issued_at=LATER)
