"""The compile and delta steps alone: hand-built registries, no database, no broker."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

from hub.compiler import Registry, compile_edge
from hub.compiler.delta import Published, by_card, delta, merge
from wire import SnapshotContent

ISSUED = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
OFFICE_HOURS = [{"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "18:00"}]


def _registry(**changes: Any) -> Registry:
    """Two edges: edge 1 has doors 11 (main) and 12 (back, an anti-passback pair), edge 2
    has door 21. Group 100 opens 11 and 21 in office hours, group 200 opens 12 always."""
    reg = Registry(
        timezone="Asia/Shanghai",
        edges=[(1, "edge-a"), (2, "edge-b")],
        doors=[(11, 1, "main", "Main door", "normal", None),
               (12, 1, "back", "Back door", "unlocked_on_schedule", 7),
               (21, 2, "lobby", "Lobby", "normal", None)],
        schedules={7: ("office", OFFICE_HOURS), 8: ("unused", OFFICE_HOURS)},
        groups={100: (7, "closed", None), 200: (None, "normal", None)},
        group_doors={100: {11, 21}, 200: {12}},
        resident_groups={1: {100}, 2: {200}, 3: {100, 200}},
        cards=[("1001", 1, "active", None, None), ("1002", 2, "lost", None, None),
               ("1003", 3, "active", None, None), ("bad card!", 3, "active", None, None),
               ("9999", 4, "active", None, None)],  # resident 4 is in no group
        holidays=[date(2026, 10, 1)],
        passback=[(5, 11, 12, "hard", 600)],
    )
    return dataclasses.replace(reg, **changes)


def _published(content: SnapshotContent, version: int = 1, digest: str = "a" * 64) -> Published:
    return Published(version, digest, content, by_card(content))


def test_an_edge_gets_its_own_doors_the_schedules_they_use_and_the_cards_that_open_them() -> None:
    content = compile_edge("demo", 1, "edge-a", _registry())
    assert [d.id for d in content.doors] == ["back", "main"]
    assert content.doors[0].unlock_schedule == "office"
    assert [(g.id, g.doors, g.schedule) for g in content.groups] == [
        (100, ["main"], "office"), (200, ["back"], None)]
    assert [s.id for s in content.schedules] == ["office"]
    # the malformed card is left out, not the whole snapshot; resident 4 opens nothing here
    assert [(c.card, c.groups) for c in content.credentials] == [
        ("1001", [100]), ("1002", [200]), ("1003", [100, 200])]
    assert [(p.entry, p.exit) for p in content.anti_passback] == [("main", "back")]
    assert content.holidays == [date(2026, 10, 1)]
    other = compile_edge("demo", 2, "edge-b", _registry())
    assert [c.card for c in other.credentials] == ["1001", "1003"]
    assert other.anti_passback == [] and [d.id for d in other.doors] == ["lobby"]


def test_equal_registries_compile_to_equal_bytes() -> None:
    first = compile_edge("demo", 1, "edge-a", _registry())
    again = compile_edge("demo", 1, "edge-a", _registry(cards=list(reversed(_registry().cards))))
    assert first.content_json() == again.content_json()


def test_a_revoked_and_a_removed_card_make_a_delta_of_just_them() -> None:
    before = compile_edge("demo", 1, "edge-a", _registry())
    cards = [("1001", 1, "revoked", None, None), ("1003", 3, "active", None, None)]
    after = compile_edge("demo", 1, "edge-a", _registry(cards=cards))
    change = delta(_published(before), (1, "a" * 64), after, by_card(after), 2, "b" * 64, ISSUED)
    assert change is not None
    assert [(c.card, c.status) for c in change.upsert] == [("1001", "revoked")]
    assert change.remove == ["1002"]
    assert (change.base_version, change.version, change.edge) == (1, 2, "edge-a")


def test_no_delta_when_more_than_cards_changed_or_the_base_is_not_the_last() -> None:
    before = compile_edge("demo", 1, "edge-a", _registry())
    closed = compile_edge("demo", 1, "edge-a", _registry(holidays=[date(2026, 10, 2)]))
    assert delta(_published(before), (1, "a" * 64), closed, by_card(closed), 2, "b" * 64,
                 ISSUED) is None
    assert delta(_published(before), (3, "c" * 64), before, by_card(before), 4, "d" * 64,
                 ISSUED) is None


def test_a_patch_for_some_residents_equals_a_full_compile() -> None:
    last = compile_edge("demo", 1, "edge-a", _registry())
    cards = [*_registry().cards, ("1004", 3, "active", None, None)]
    full = compile_edge("demo", 1, "edge-a", _registry(cards=cards))
    part = compile_edge("demo", 1, "edge-a", _registry(
        cards=[c for c in cards if c[1] == 3], resident_groups={3: {100, 200}}))
    patched = merge(_published(last), part, {3})
    assert patched is not None
    assert patched.content_json() == full.content_json()
    moved = compile_edge("demo", 1, "edge-a", _registry(passback=[]))
    assert merge(_published(last), moved, {3}) is None


def test_the_hub_keys_the_edge_should_accept_ride_in_the_content_and_its_hash() -> None:
    keys = ["A" * 43 + "=", "B" * 43 + "="]
    plain = compile_edge("demo", 1, "edge-a", _registry())
    rolled = compile_edge("demo", 1, "edge-a", _registry(downlink_keys=keys))
    assert plain.downlink_keys == [] and rolled.downlink_keys == keys
    # a rollover changes the content: the edges get a new version that names both keys
    assert rolled.content_hash() != plain.content_hash()
