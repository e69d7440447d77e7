"""The people registry: buildings, units, households, residents' household and ID number,
users (create, scope, disable), the console's session cookie and card states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import CookieJar
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api import create_app
from tests.hub.api.conftest import PASSWORD, RecordingPublisher, count, problem_fields
from tests.hub.api.world import ID_NUMBER, World, build_world

Client = TestClient[Any, Any]

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]  # SQLite and PostgreSQL
API = "/api/v1"


async def _world(client: Client, sessions: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(client, sessions)


async def test_buildings_units_and_households_round_trip(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    w = await _world(client, sessions)
    _, b = await w.call(
        "POST", "/buildings", json={"site_id": "sunrise", "code": "B2", "name": "2号楼"}, status=201
    )
    await w.call(
        "POST", "/buildings", json={"site_id": "sunrise", "code": "B2", "name": "x"}, status=409
    )
    _, u = await w.call(
        "POST",
        "/units",
        json={"building_id": b["id"], "number": "1203", "floor": 12, "area": 98.6},
        status=201,
    )
    assert u == {
        "id": u["id"],
        "site_id": "sunrise",
        "building_id": b["id"],
        "number": "1203",
        "floor": 12,
        "area": 98.6,
        "status": "vacant",
        "household_id": None,
    }
    await w.call("POST", "/units", json={"building_id": b["id"], "number": "1203"}, status=409)
    _, bad = await w.call(
        "POST",
        "/units",
        json={"building_id": b["id"], "number": "1", "status": "haunted", "area": -1},
        status=422,
    )
    assert problem_fields(bad) == ["area", "status"]
    _, u = await w.call("PATCH", f"/units/{u['id']}", json={"status": "occupied"}, status=200)
    assert u["status"] == "occupied" and u["area"] == 98.6
    _, h = await w.call(
        "POST", "/households", json={"unit_id": u["id"], "name": "陈家"}, status=201
    )
    await w.call("POST", "/households", json={"unit_id": u["id"]}, status=409)
    # an id past any row's (SQLite once answered 500: integer too large) is refused by name
    for field, path, body in (
        ("unit_id", "/households", {"unit_id": 2**63}),
        ("building_id", "/units", {"building_id": 2**40, "number": "9-9"}),
    ):
        _, bad = await w.call("POST", path, json=body, status=422)
        assert field in problem_fields(bad), bad
    _, r = await w.call(
        "POST",
        "/residents",
        json={"site_id": "sunrise", "name": "陈明", "unit_id": u["id"], "type": "tenant"},
        status=201,
    )
    assert r["household_id"] == h["id"] and r["type"] == "tenant"
    _, h = await w.call("GET", f"/households/{h['id']}", status=200)
    assert h["residents"] == [{"id": r["id"], "name": "陈明", "type": "tenant"}]
    _, listed = await w.call("GET", f"/units?building_id={b['id']}&status=occupied", status=200)
    assert [x["household_id"] for x in listed["items"]] == [h["id"]]
    # a building's households alone (the console shows one building's at a time)
    _, of_building = await w.call("GET", f"/households?building_id={b['id']}", status=200)
    assert [x["id"] for x in of_building["items"]] == [h["id"]]
    _, everyone = await w.call("GET", "/households", status=200)
    assert len(everyone["items"]) > 1
    # nothing that is lived in can be removed from under the people
    _, conflict = await w.call("DELETE", f"/households/{h['id']}", status=409)
    assert str(r["id"]) in conflict["detail"]
    await w.call("DELETE", f"/units/{u['id']}", status=409)
    await w.call("DELETE", f"/buildings/{b['id']}", status=409)
    await w.call("DELETE", f"/residents/{r['id']}", status=204)
    await w.call("DELETE", f"/households/{h['id']}", status=204)
    await w.call("DELETE", f"/units/{u['id']}", status=204)
    await w.call("DELETE", f"/buildings/{b['id']}", status=204)
    await w.call("GET", f"/buildings/{b['id']}", status=404)


async def test_a_resident_moves_with_their_unit_or_household(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    w = await _world(client, sessions)
    rid = w.ids["residents"]["home"]
    _, r = await w.call(
        "PATCH", f"/residents/{rid}", json={"unit_id": w.unit["neighbour"]}, status=200
    )
    assert r["household_id"] == w.ids["households"]["neighbour"]
    _, r = await w.call(
        "PATCH", f"/residents/{rid}", json={"household_id": w.ids["households"]["home"]}, status=200
    )
    assert (r["unit_id"], r["household_id"]) == (101, w.ids["households"]["home"])
    _, bad = await w.call(
        "PATCH", f"/residents/{rid}", json={"household_id": w.ids["households"]["away"]}, status=422
    )
    assert problem_fields(bad) == ["household_id"]
    _, bad = await w.call(
        "POST",
        "/residents",
        json={
            "site_id": "sunrise",
            "name": "x",
            "unit_id": w.unit["neighbour"],
            "household_id": w.ids["households"]["home"],
        },
        status=422,
    )
    assert problem_fields(bad) == ["unit_id"]
    _, bad = await w.call(
        "POST",
        "/residents",
        json={
            "site_id": "sunrise",
            "name": "x",
            "id_number": "110105194912310021",
            "type": "landlord",
        },
        status=422,
    )
    assert problem_fields(bad) == ["type", "id_number"]
    # lower-case x is the same check digit
    _, r = await w.call(
        "POST",
        "/residents",
        json={"site_id": "sunrise", "name": "x", "id_number": "44030419900101109x"},
        status=201,
    )
    assert r["id_number"] == "44030419900101109X" and r["household_id"] is None
    # the same person cannot be registered twice in a site (the home resident has ID_NUMBER)
    body = {"site_id": "sunrise", "name": "y", "id_number": ID_NUMBER}
    _, dup = await w.call("POST", "/residents", json=body, status=409)
    assert "ID number" in dup["detail"]
    await w.call("PATCH", f"/residents/{r['id']}", json={"id_number": ID_NUMBER}, status=409)
    await w.call("PATCH", f"/residents/{r['id']}", json={"id_number": r["id_number"]}, status=200)


async def test_users_created_scoped_and_disabled(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    w = await _world(client, sessions)
    # the manager manages guards, technicians and resident users of their own site only
    for body, status, field in (
        ({"role": "manager", "site_id": "sunrise"}, 403, None),
        ({"role": "admin"}, 403, None),
        ({"role": "guard", "site_id": "moonbay"}, 403, None),
        ({"role": "guard"}, 422, "site_id"),
        ({"role": "resident", "household_id": w.ids["households"]["away"]}, 422, "household_id"),
        ({"role": "technician", "site_id": "sunrise", "household_id": 1}, 422, "household_id"),
    ):
        body = {"username": "newbie", "password": PASSWORD, **body}
        _, answer = await w.call("POST", "/users", "manager", json=body, status=status)
        if field:
            assert problem_fields(answer) == [field]
    _, guard = await w.call(
        "POST",
        "/users",
        "manager",
        status=201,
        json={
            "username": "night-guard",
            "password": PASSWORD,
            "role": "guard",
            "site_id": "sunrise",
        },
    )
    await w.call(
        "POST",
        "/users",
        "manager",
        status=409,
        json={
            "username": "night-guard",
            "password": PASSWORD,
            "role": "guard",
            "site_id": "sunrise",
        },
    )
    _, listed = await w.call("GET", "/users", "manager", 200)
    assert {u["site_id"] for u in listed["items"]} == {"sunrise"}
    _, everyone = await w.call("GET", "/users", "admin", 200)
    assert {u["site_id"] for u in everyone["items"]} == {None, "sunrise", "moonbay"}
    token = await w.login("night-guard")
    w.tokens["night"] = token
    await w.call("GET", "/access-events", "night", 200)
    # disabling ends the sessions at once and refuses a new login like a wrong password
    _, off = await w.call("PATCH", f"/users/{guard['id']}", "manager", 200, json={"disabled": True})
    assert off["disabled"] is True
    await w.call("GET", "/access-events", "night", 401)
    resp = await client.post(
        f"{API}/auth/login", json={"username": "night-guard", "password": PASSWORD}
    )
    assert resp.status == 401
    await w.call("PATCH", f"/users/{guard['id']}", "manager", 200, json={"disabled": False})
    await w.login("night-guard")
    # nobody changes their own role or scope; a manager cannot touch a manager
    _, me = await w.call("GET", "/auth/me", "manager", 200)
    await w.call("PATCH", f"/users/{me['id']}", "manager", 403, json={"role": "guard"})
    _, admin = await w.call("GET", "/auth/me", "admin", 200)
    _, bad = await w.call("PATCH", f"/users/{admin['id']}", "admin", 422, json={"disabled": True})
    assert problem_fields(bad) == ["disabled"]
    # a new password ends the user's sessions too
    await w.call(
        "PATCH", f"/users/{guard['id']}", "admin", 200, json={"password": "another long password"}
    )
    await w.call("GET", "/auth/me", "night", 401)


async def test_the_session_cookie_authenticates_the_console(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    app = create_app(
        sessions=sessions, publisher=RecordingPublisher(), token_ttl_s=600, cookie_secure=True
    )
    # unsafe=True: the jar keeps cookies for 127.0.0.1; the Secure flag is for the browser
    async with TestClient(TestServer(app), cookie_jar=CookieJar(unsafe=True)) as console:
        resp = await console.post(
            f"{API}/auth/login", json={"username": "admin", "password": PASSWORD}
        )
        assert resp.status == 200
        header = resp.headers["Set-Cookie"]
        assert header.startswith("lintel_session=")
        for attribute in ("HttpOnly", "SameSite=Strict", "Secure", "Max-Age=600", "Path=/"):
            assert attribute in header, (attribute, header)
        # the jar sends it back (over plain HTTP only because the test server is local)
        console.session.cookie_jar.update_cookies(
            {"lintel_session": resp.cookies["lintel_session"].value}
        )
        resp = await console.get(f"{API}/auth/me")
        assert resp.status == 200 and (await resp.json())["username"] == "admin"
        # a wrong Authorization header is not overridden by the cookie
        resp = await console.get(f"{API}/auth/me", headers={"Authorization": "Bearer nope"})
        assert resp.status == 401
        resp = await console.post(f"{API}/auth/logout")
        assert resp.status == 204
        assert 'lintel_session=""' in resp.headers["Set-Cookie"]
        assert "Max-Age=0" in resp.headers["Set-Cookie"]
        resp = await console.get(f"{API}/auth/me")
        assert resp.status == 401


async def test_the_cookie_is_not_secure_unless_configured(client: Client) -> None:
    resp = await client.post(f"{API}/auth/login", json={"username": "admin", "password": PASSWORD})
    header = resp.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Secure" not in header


async def test_cards_states_and_several_per_resident(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    w = await _world(client, sessions)
    rid = w.ids["residents"]["home"]
    now = datetime.now(UTC)
    made = {}
    for number, extra in (
        ("5001", {}),
        ("5002", {"valid_until": (now - timedelta(days=1)).isoformat()}),
        ("5003", {"valid_from": (now + timedelta(days=1)).isoformat()}),
        ("5004", {"status": "lost"}),
        ("5005", {"status": "revoked", "valid_until": (now - timedelta(days=1)).isoformat()}),
    ):
        _, card = await w.call(
            "POST",
            "/cards",
            json={"resident_id": rid, "card_number": number, "facility_code": 123, **extra},
            status=201,
        )
        made[number] = card
        assert card["facility_code"] == 123
    assert {n: c["state"] for n, c in made.items()} == {
        "5001": "active",
        "5002": "expired",
        "5003": "not_yet_valid",
        "5004": "lost",
        "5005": "revoked",
    }
    _, resident = await w.call("GET", f"/residents/{rid}", status=200)
    assert {c["card_number"] for c in resident["cards"]} >= set(made)
    for state, numbers in (
        ("expired", {"5002"}),
        ("not_yet_valid", {"5003"}),
        ("lost", {"5004"}),
        ("revoked", {"5005"}),
    ):
        _, listed = await w.call("GET", f"/cards?resident_id={rid}&state={state}", status=200)
        assert {c["card_number"] for c in listed["items"]} == numbers, state
    _, active = await w.call("GET", f"/cards?resident_id={rid}&state=active", status=200)
    assert "5001" in {c["card_number"] for c in active["items"]}
    assert not {"5002", "5003", "5004", "5005"} & {c["card_number"] for c in active["items"]}
    # the resident reads their cards and cannot change them
    _, mine = await w.call("GET", "/cards", "resident", 200)
    assert {c["card_number"] for c in mine["items"]} >= set(made)
    before = await count(sessions)
    await w.call(
        "PATCH", f"/cards/{made['5004']['id']}", "resident", 403, json={"status": "active"}
    )
    assert await count(sessions) == before


async def test_a_resident_login_made_through_the_api_gets_its_qr(
    client: Client, sessions: async_sessionmaker[AsyncSession]
) -> None:
    w = await _world(client, sessions)
    home, away = w.ids["residents"]["home"], w.ids["residents"]["away"]
    base = {"username": "li-home", "password": PASSWORD, "role": "resident"}
    for body, status in (
        ({**base, "resident_id": away}, 422),  # not in the manager's site
        ({**base, "role": "guard", "site_id": "sunrise", "resident_id": home}, 422),
        ({**base, "resident_id": home, "household_id": w.ids["households"]["neighbour"]}, 422),
    ):
        _, answer = await w.call("POST", "/users", "manager", json=body, status=status)
        assert problem_fields(answer) == ["resident_id"]
    _, made = await w.call("POST", "/users", "manager", json={**base, "resident_id": home},
                           status=201)
    assert made["resident_id"] == home
    assert made["household_id"] == w.ids["households"]["home"]
    token = await w.login("li-home")
    resp = await client.get(API + "/me/qr", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200, await resp.text()
    assert len((await resp.json())["token"]) == 120
