"""CRUD round trips for residents, cards, schedules and access groups, and the publisher."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.hub.api.conftest import RecordingPublisher, count

Client = TestClient[Any, Any]
API = "/api/v1"
WORKDAYS = [{"days": [0, 1, 2, 3, 4], "start": "07:00", "end": "19:00"}]


async def call(
    client: Client, auth: dict[str, str], method: str, path: str, status: int, body: Any = None
) -> Any:
    resp = await client.request(method, API + path, headers=auth, json=body)
    text = await resp.text()
    assert resp.status == status, f"{method} {path}: {resp.status} {text}"
    return await resp.json() if text else None


async def test_schedule_round_trip(
    client: Client, auth: dict[str, str], publisher: RecordingPublisher
) -> None:
    made = await call(
        client,
        auth,
        "POST",
        "/schedules",
        201,
        {"site_id": "sunrise", "name": "workdays", "windows": WORKDAYS},
    )
    assert made["windows"] == WORKDAYS and made["site_id"] == "sunrise"
    sid = made["id"]
    assert await call(client, auth, "GET", f"/schedules/{sid}", 200) == made
    weekend = [{"days": [6, 5], "start": "09:00", "end": "24:00"}]
    patched = await call(client, auth, "PATCH", f"/schedules/{sid}", 200, {"windows": weekend})
    assert patched["windows"] == [{"days": [5, 6], "start": "09:00", "end": "24:00"}]
    assert patched["name"] == "workdays"
    listed = await call(client, auth, "GET", "/schedules?site_id=sunrise", 200)
    assert [s["id"] for s in listed["items"]] == [sid]
    assert (await call(client, auth, "GET", "/schedules?site_id=moonbay", 200))["items"] == []
    await call(client, auth, "DELETE", f"/schedules/{sid}", 204)
    body = await call(client, auth, "GET", f"/schedules/{sid}", 404)
    assert body == {"error": "not_found", "detail": f"schedule {sid} not found",
                    "message": f"No schedule {sid} (it may have been removed)."}
    assert publisher.calls == ["sunrise"] * 3


async def test_group_round_trip(
    client: Client, auth: dict[str, str], publisher: RecordingPublisher
) -> None:
    schedule = await call(
        client,
        auth,
        "POST",
        "/schedules",
        201,
        {"site_id": "sunrise", "name": "workdays", "windows": WORKDAYS},
    )
    made = await call(
        client,
        auth,
        "POST",
        "/access-groups",
        201,
        {
            "site_id": "sunrise",
            "name": "Residents B1",
            "doors": ["B1-main", "B1-garage"],
            "schedule_id": schedule["id"],
        },
    )
    assert made["doors"] == ["B1-garage", "B1-main"] and made["schedule_id"] == schedule["id"]
    gid = made["id"]
    assert await call(client, auth, "GET", f"/access-groups/{gid}", 200) == made
    patched = await call(
        client,
        auth,
        "PATCH",
        f"/access-groups/{gid}",
        200,
        {"doors": ["B1-main"], "schedule_id": None},
    )
    assert patched["doors"] == ["B1-main"] and patched["schedule_id"] is None
    assert patched["name"] == "Residents B1"
    listed = await call(client, auth, "GET", "/access-groups", 200)
    assert [g["id"] for g in listed["items"]] == [gid]
    await call(client, auth, "DELETE", f"/access-groups/{gid}", 204)
    await call(client, auth, "GET", f"/access-groups/{gid}", 404)
    assert publisher.calls == ["sunrise"] * 4


async def test_schedule_in_use_cannot_be_deleted(client: Client, auth: dict[str, str]) -> None:
    schedule = await call(
        client,
        auth,
        "POST",
        "/schedules",
        201,
        {"site_id": "sunrise", "name": "workdays", "windows": WORKDAYS},
    )
    group = await call(
        client,
        auth,
        "POST",
        "/access-groups",
        201,
        {"site_id": "sunrise", "name": "g", "schedule_id": schedule["id"]},
    )
    body = await call(client, auth, "DELETE", f"/schedules/{schedule['id']}", 409)
    assert str(group["id"]) in body["detail"]


async def test_resident_and_card_round_trip(
    client: Client,
    auth: dict[str, str],
    publisher: RecordingPublisher,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    group = await call(
        client,
        auth,
        "POST",
        "/access-groups",
        201,
        {"site_id": "sunrise", "name": "all", "doors": ["B1-main"]},
    )
    resident = await call(
        client,
        auth,
        "POST",
        "/residents",
        201,
        {
            "site_id": "sunrise",
            "name": "Wang Fang",
            "phone": "+86 138 0000 0000",
            "unit_id": 101,
            "groups": [group["id"]],
        },
    )
    rid = resident["id"]
    assert resident["groups"] == [group["id"]] and resident["cards"] == []
    assert resident["unit_id"] == 101

    card = await call(
        client,
        auth,
        "POST",
        "/cards",
        201,
        {
            "resident_id": rid,
            "card_number": "0012345678",
            "facility_code": 17,
            "valid_from": "2025-01-01T00:00:00+08:00",
            "valid_until": "2026-01-01T00:00:00Z",
        },
    )
    assert card["site_id"] == "sunrise" and card["status"] == "active"
    assert card["valid_from"] == "2024-12-31T16:00:00Z"  # stored and answered in UTC
    cid = card["id"]
    assert await call(client, auth, "GET", f"/cards/{cid}", 200) == card

    got = await call(client, auth, "GET", f"/residents/{rid}", 200)
    assert got["cards"] == [card] and got["groups"] == [group["id"]]

    revoked = await call(client, auth, "PATCH", f"/cards/{cid}", 200, {"status": "revoked"})
    assert revoked["status"] == "revoked" and revoked["card_number"] == "0012345678"
    assert revoked["valid_until"] == card["valid_until"]
    assert (await call(client, auth, "GET", "/cards?status=revoked", 200))["items"] == [revoked]
    assert (await call(client, auth, "GET", "/cards?status=active", 200))["items"] == []
    assert len((await call(client, auth, "GET", f"/cards?resident_id={rid}", 200))["items"]) == 1

    patched = await call(
        client,
        auth,
        "PATCH",
        f"/residents/{rid}",
        200,
        {"name": "Wang Fang (B1-101)", "groups": [], "phone": None},
    )
    assert patched["groups"] == [] and patched["phone"] is None
    assert patched["name"] == "Wang Fang (B1-101)" and patched["unit_id"] == 101
    listed = await call(client, auth, "GET", "/residents?site_id=sunrise", 200)
    assert [r["id"] for r in listed["items"]] == [rid]

    await call(client, auth, "DELETE", f"/residents/{rid}", 204)
    await call(client, auth, "GET", f"/residents/{rid}", 404)
    await call(client, auth, "GET", f"/cards/{cid}", 404)
    counts = await count(sessions)
    assert counts["residents"] == counts["card_credentials"] == counts["resident_groups"] == 0
    # group, resident, card, card patch, resident patch; the resident deleted last was in no
    # group any more, so no edge needed a new snapshot
    assert publisher.calls == ["sunrise"] * 5
    assert [site for site, _ in publisher.edge_calls] == ["sunrise"] * 4


async def test_card_delete_and_move_between_residents(client: Client, auth: dict[str, str]) -> None:
    a = await call(client, auth, "POST", "/residents", 201, {"site_id": "sunrise", "name": "A"})
    b = await call(client, auth, "POST", "/residents", 201, {"site_id": "sunrise", "name": "B"})
    other = await call(client, auth, "POST", "/residents", 201, {"site_id": "moonbay", "name": "C"})
    card = await call(
        client, auth, "POST", "/cards", 201, {"resident_id": a["id"], "card_number": "1"}
    )
    moved = await call(client, auth, "PATCH", f"/cards/{card['id']}", 200, {"resident_id": b["id"]})
    assert moved["resident_id"] == b["id"]
    body = await call(
        client, auth, "PATCH", f"/cards/{card['id']}", 422, {"resident_id": other["id"]}
    )
    assert body["detail"][0]["field"] == "resident_id"
    await call(client, auth, "DELETE", f"/cards/{card['id']}", 204)
    await call(client, auth, "DELETE", f"/cards/{card['id']}", 404)


async def test_same_card_number_in_two_sites_is_fine_but_not_twice_in_one(
    client: Client,
    auth: dict[str, str],
    sessions: async_sessionmaker[AsyncSession],
    publisher: RecordingPublisher,
) -> None:
    a = await call(client, auth, "POST", "/residents", 201, {"site_id": "sunrise", "name": "A"})
    b = await call(client, auth, "POST", "/residents", 201, {"site_id": "sunrise", "name": "B"})
    c = await call(client, auth, "POST", "/residents", 201, {"site_id": "moonbay", "name": "C"})
    first = await call(
        client, auth, "POST", "/cards", 201, {"resident_id": a["id"], "card_number": "42"}
    )
    await call(client, auth, "POST", "/cards", 201, {"resident_id": c["id"], "card_number": "42"})
    calls = list(publisher.calls)
    before = await count(sessions)
    body = await call(
        client, auth, "POST", "/cards", 409, {"resident_id": b["id"], "card_number": "42"}
    )
    assert body["error"] == "conflict" and "42" in body["detail"]
    other = await call(
        client, auth, "POST", "/cards", 201, {"resident_id": b["id"], "card_number": "43"}
    )
    await call(client, auth, "PATCH", f"/cards/{other['id']}", 409, {"card_number": "42"})
    after = await count(sessions)
    after["card_credentials"] -= 1  # the "43" card
    after["audit_log"] -= 1  # and its entry in the audit log
    assert after == before
    # refusals publish nothing; the "43" card's holder is in no group, so it reaches no edge
    assert publisher.calls == calls
    assert (await call(client, auth, "GET", f"/cards/{first['id']}", 200))["resident_id"] == a["id"]


async def test_registry_reads(client: Client, auth: dict[str, str]) -> None:
    sites = await call(client, auth, "GET", "/sites", 200)
    assert [s["id"] for s in sites["items"]] == ["moonbay", "sunrise"]
    doors = await call(client, auth, "GET", "/doors?site_id=sunrise", 200)
    assert [(d["name"], d["edge"], d["mode"]) for d in doors["items"]] == [
        ("B1-garage", "edge-b1", "normal"),
        ("B1-main", "edge-b1", "normal"),
    ]
    doors = await call(client, auth, "GET", "/doors", 200)
    assert ("M1-main", "edge-m1", "locked_down") in [
        (d["name"], d["edge"], d["mode"]) for d in doors["items"]
    ]
    edges = await call(client, auth, "GET", "/edges", 200)
    b1 = next(e for e in edges["items"] if e["name"] == "edge-b1")
    assert b1["status"] == "online" and b1["perm_version_held"] == 3 and b1["last_seen"] is None
