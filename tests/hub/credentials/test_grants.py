"""What the snapshot carries for signed credentials, per edge (pure: no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from hub.credentials.grants import SiteGrants, edge_grants
from wire import AccessGroupRule, SnapshotContent

NOW = datetime(2026, 5, 1, tzinfo=UTC)
KEY = "A" * 43 + "="


def site() -> SiteGrants:
    return SiteGrants(
        residents=[1, 2],  # residents with an app login
        phone_keys=[(10, 1, KEY, "active"), (11, 1, KEY, "revoked"), (12, 3, KEY, "active")],
        passes=[(7, "active", NOW, NOW + timedelta(hours=1), 2, 1),
                (8, "revoked", NOW, NOW + timedelta(hours=1), 1, 0),
                (9, "active", NOW, NOW + timedelta(hours=1), 1, 0)],
        pass_doors={7: {100, 200}, 8: {100}, 9: {200}},
    )


def test_grants_for_one_edge() -> None:
    # this edge has door 100 ("main"); door 200 belongs to another edge
    grants = edge_grants(site(), {100: "main"}, {1: {5}, 2: {6}, 3: {5}}, group_ids={5})
    by_key = {c.card: c for c in grants.credentials}
    assert sorted(by_key) == ["ble:10", "ble:11", "ble:12", "pass:7", "pass:8", "qr:1"]
    assert by_key["qr:1"].groups == [5]  # resident 2's groups reach no door here
    assert (by_key["ble:11"].status, by_key["ble:12"].resident_id) == ("revoked", 3)
    assert (by_key["pass:8"].status, by_key["pass:7"].groups) == ("revoked", [-7])
    assert [(g.id, g.doors) for g in grants.groups] == [(-8, ["main"]), (-7, ["main"])]
    assert [(p.id, p.max_uses, p.uses) for p in grants.visitor_passes] == [(7, 2, 1), (8, 1, 0)]
    assert [k.id for k in grants.phone_keys] == [10, 11, 12]
    groups = [*grants.groups, AccessGroupRule(id=5, doors=["main"])]
    content = SnapshotContent(site="s", edge="e", groups=groups,
                              credentials=grants.credentials, hub_public_key=KEY,
                              phone_keys=grants.phone_keys, visitor_passes=grants.visitor_passes)
    assert content.content_hash() != SnapshotContent(site="s", edge="e").content_hash()


def test_snapshot_refuses_a_pass_without_its_door_group_and_a_bad_key() -> None:
    grants = edge_grants(site(), {100: "main"}, {}, group_ids=set())
    with pytest.raises(ValidationError, match="unknown groups"):
        SnapshotContent(site="s", edge="e", credentials=grants.credentials)
    with pytest.raises(ValidationError, match="hub_public_key"):
        SnapshotContent(site="s", edge="e", hub_public_key="short")
