"""The signed-credential endpoints: a resident's QR code and phone keys, visitor passes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api import create_user
from hub.models import PhoneKey, Resident, ResidentAccount, User, VisitorPass
from simulators.phone import PhoneSimulator
from tests.hub.api.conftest import PASSWORD, RecordingPublisher, count
from wire.tokens import decode_token

Client = TestClient[Any, Any]
SOON = datetime.now(UTC) + timedelta(hours=1)


@pytest.fixture
async def people(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """alice: resident of unit 101 (sunrise) with a login; carol: a login linked to nobody;
    dave: resident of unit 901 (moonbay); a guard and a technician."""
    async with sessions() as session, session.begin():
        alice = Resident(site_id="sunrise", unit_id=101, name="张丽")
        dave = Resident(site_id="moonbay", unit_id=901, name="Dave")
        session.add_all([alice, dave])
        await session.flush()
        alice_user = await session.scalar(select(User).where(User.username == "alice"))
        assert alice_user is not None
        dave_user = await create_user(session, "dave", PASSWORD, "resident", site_id="moonbay")
        await create_user(session, "carol", PASSWORD, "resident", site_id="sunrise")
        await create_user(session, "gina", PASSWORD, "guard", site_id="sunrise")
        await create_user(session, "tom", PASSWORD, "technician", site_id="sunrise")
        session.add_all([ResidentAccount(user_id=alice_user.id, resident_id=alice.id),
                         ResidentAccount(user_id=dave_user.id, resident_id=dave.id)])
        return {"alice": alice.id, "dave": dave.id}


async def login(client: Client, username: str) -> dict[str, str]:
    resp = await client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert resp.status == 200
    # these tests authenticate by header only: drop the console's session cookie login set
    client.session.cookie_jar.clear()
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


def pass_body(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body = {"visitor_name": "王芳", "visitor_phone": "+86 138 0000 0000", "unit_id": 101,
            "doors": ["B1-main"], "valid_from": now.isoformat(),
            "valid_until": (now + timedelta(hours=4)).isoformat(), "max_uses": 2}
    return {**body, **overrides}


async def test_my_qr_as_json_png_and_svg(client: Client, people: dict[str, int]) -> None:
    auth = await login(client, "alice")
    resp = await client.get("/api/v1/me/qr", headers=auth)
    body = await resp.json()
    assert resp.status == 200, body
    claims, _, _ = decode_token(body["token"])
    assert (claims.type, claims.subject) == ("resident_qr", people["alice"])
    assert 1 <= body["refresh_in_s"] <= 30
    png = await client.get("/api/v1/me/qr", params={"format": "png"}, headers=auth)
    assert png.status == 200 and png.content_type == "image/png"
    assert (await png.read()).startswith(b"\x89PNG")
    svg = await client.get("/api/v1/me/qr", params={"format": "svg"}, headers=auth)
    assert svg.content_type == "image/svg+xml" and b"<svg" in await svg.read()
    bad = await client.get("/api/v1/me/qr", params={"format": "gif"}, headers=auth)
    assert bad.status == 422


async def test_me_needs_a_linked_resident_login(client: Client, people: dict[str, int],
                                                auth: dict[str, str]) -> None:
    assert (await client.get("/api/v1/me/qr", headers=auth)).status == 403  # admin: staff
    carol = await login(client, "carol")
    resp = await client.get("/api/v1/me/qr", headers=carol)
    assert resp.status == 403 and "not linked" in (await resp.json())["detail"]
    assert (await client.get("/api/v1/me/qr")).status == 401


async def test_phone_keys_register_list_revoke(client: Client, people: dict[str, int],
                                               sessions: async_sessionmaker[AsyncSession],
                                               publisher: RecordingPublisher) -> None:
    alice = await login(client, "alice")
    phone = PhoneSimulator()
    resp = await client.post("/api/v1/me/phone-keys", headers=alice,
                             json={"public_key": phone.public_key, "label": "iPhone"})
    key = await resp.json()
    assert resp.status == 201, key
    assert (key["status"], key["resident_id"]) == ("active", people["alice"])
    assert publisher.calls == ["sunrise"]
    again = await client.post("/api/v1/me/phone-keys", headers=alice,
                              json={"public_key": phone.public_key})
    assert again.status == 409
    before = await count(sessions, PhoneKey)
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        resp = await client.post("/api/v1/me/phone-keys", headers=alice, json={"public_key": bad})
        assert resp.status == 422 and (await resp.json())["detail"][0]["field"] == "public_key"
    assert await count(sessions, PhoneKey) == before
    # dave cannot see or revoke alice's key
    dave = await login(client, "dave")
    assert (await (await client.get("/api/v1/me/phone-keys", headers=dave)).json())["items"] == []
    assert (await client.post(f"/api/v1/me/phone-keys/{key['id']}/revoke", headers=dave)).status == 404
    revoked = await client.post(f"/api/v1/me/phone-keys/{key['id']}/revoke", headers=alice)
    assert (await revoked.json())["status"] == "revoked"
    listed = await (await client.get("/api/v1/me/phone-keys", headers=alice)).json()
    assert [k["status"] for k in listed["items"]] == ["revoked"]


async def test_resident_issues_pass_for_own_unit_only(client: Client, people: dict[str, int],
                                                      sessions: async_sessionmaker[AsyncSession],
                                                      publisher: RecordingPublisher) -> None:
    alice = await login(client, "alice")
    resp = await client.post("/api/v1/visitor-passes", headers=alice, json=pass_body())
    issued = await resp.json()
    assert resp.status == 201, issued
    assert (issued["doors"], issued["uses"], issued["status"]) == (["B1-main"], 0, "active")
    claims, _, _ = decode_token(issued["token"])
    assert (claims.type, claims.subject) == ("visitor_pass", issued["id"])
    assert base64.b64decode(issued["qr_png_base64"]).startswith(b"\x89PNG")
    assert publisher.calls == ["sunrise"]
    # the share link needs no login; the logged-in link does
    share = issued["share_url"].split("/api/v1", 1)[1]
    resp = await client.get("/api/v1" + share)
    assert resp.status == 200 and resp.content_type == "image/png"
    assert (await client.get(f"/api/v1/visitor-passes/{issued['id']}/qr.png")).status == 401
    assert (await client.get(f"/api/v1/visitor-passes/{issued['id']}/qr.png",
                             headers=alice)).status == 200
    before = await count(sessions, VisitorPass)
    other_unit = await client.post("/api/v1/visitor-passes", headers=alice,
                                   json=pass_body(unit_id=901, doors=["M1-main"]))
    # another unit is as unknown to alice as one that does not exist
    assert other_unit.status == 422 and (await other_unit.json())["detail"][0]["field"] == "unit_id"
    assert await count(sessions, VisitorPass) == before


async def test_pass_validation_names_the_field(client: Client, people: dict[str, int],
                                               auth: dict[str, str]) -> None:
    now = datetime.now(UTC)
    cases = [
        (pass_body(doors=["Nowhere"]), "doors"),
        (pass_body(doors=["M1-main"]), "doors"),  # a door of another site
        (pass_body(unit_id=4242), "unit_id"),
        (pass_body(valid_until=now.isoformat(), valid_from=(now + timedelta(hours=1)).isoformat()),
         "(body)"),
        (pass_body(max_uses=0), "max_uses"),
        (pass_body(valid_from="2026-01-01T00:00:00"), "valid_from"),  # naive time
    ]
    for body, field in cases:
        resp = await client.post("/api/v1/visitor-passes", headers=auth, json=body)
        reply = await resp.json()
        assert resp.status == 422, (body, reply)
        assert reply["detail"][0]["field"] == field, reply


async def test_pass_listing_scoping_and_revocation(client: Client, people: dict[str, int],
                                                   auth: dict[str, str]) -> None:
    guard = await login(client, "gina")
    mine = await (await client.post("/api/v1/visitor-passes", headers=guard,
                                    json=pass_body())).json()
    theirs = await (await client.post("/api/v1/visitor-passes", headers=auth, json=pass_body(
        unit_id=901, doors=["M1-main"]))).json()
    alice, dave = await login(client, "alice"), await login(client, "dave")
    listed = await (await client.get("/api/v1/visitor-passes", headers=alice)).json()
    assert [p["id"] for p in listed["items"]] == [mine["id"]]
    assert (await client.get(f"/api/v1/visitor-passes/{mine['id']}", headers=dave)).status == 404
    # staff see their own site's passes: the sunrise guard neither lists nor opens moonbay's
    staff = await (await client.get("/api/v1/visitor-passes", headers=guard)).json()
    assert [p["id"] for p in staff["items"]] == [mine["id"]]
    assert (await client.get("/api/v1/visitor-passes", headers=guard,
                             params={"site_id": "moonbay"})).status == 403
    assert (await client.get(f"/api/v1/visitor-passes/{theirs['id']}", headers=guard)).status == 404
    everyone = await (await client.get("/api/v1/visitor-passes", headers=auth,
                                       params={"site_id": "moonbay"})).json()
    assert [p["id"] for p in everyone["items"]] == [theirs["id"]]
    tech = await login(client, "tom")
    assert (await client.post("/api/v1/visitor-passes", headers=tech, json=pass_body())).status == 403
    assert (await client.post(f"/api/v1/visitor-passes/{mine['id']}/revoke",
                              headers=tech)).status == 403
    revoked = await (await client.post(f"/api/v1/visitor-passes/{mine['id']}/revoke",
                                       headers=alice)).json()
    assert revoked["status"] == "revoked" and revoked["revoked_at"]
    share = mine["share_url"].split("/api/v1", 1)[1]
    assert (await client.get("/api/v1" + share)).status == 404  # a revoked pass is not shown
    unknown = await client.get("/api/v1/visitor-passes/shared.png", params={"code": "x" * 32})
    assert unknown.status == 404
    assert (await client.get(f"/api/v1/visitor-passes/{10**30}", headers=guard)).status == 404
    resp = await client.post("/api/v1/visitor-passes", headers=guard,
                             json=pass_body(visitor_name="a\x00b", unit_id=2**40))
    assert resp.status == 422
    assert {p["field"] for p in (await resp.json())["detail"]} == {"visitor_name", "unit_id"}
