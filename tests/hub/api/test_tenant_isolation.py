"""Tenant isolation (issue 19): nothing of one company is visible or writable by another.

The world (tests.hub.api.world) puts sunrise in the company `acme` and moonbay in `rival`;
the company admin and the staff users are acme's. The role matrix (test_role_matrix) already
calls every route as every role in every place (B's rows: 404 for GET/PATCH/DELETE and the
item POSTs, 403 for a body naming B's site, lists never holding B's ids). Here, beside it,
every GET route of the app is called by acme's admin and manager, in JSON and in CSV where
it offers CSV, and no answer may name anything of rival's; every route that takes a
`site_id` filter refuses rival's site with 403. The routes are enumerated from the app, so a
route added later without scoping fails here too.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api.core.endpoints import ENDPOINTS
from hub.api.core.keys import LIVE
from hub.api.core.openapi import openapi_path
from hub.live import LiveItem
from tests.hub.api.conftest import PASSWORD
from tests.hub.api.test_role_matrix import CASES
from tests.hub.api.world import World, build_world
from tests.support.waiting import until

Client = TestClient[Any, Any]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ACME_ROLES = ("company_admin", "manager")
# what only rival's rows hold: its site's id and name, its edge, doors and building
RIVAL_MARKERS = ("moonbay", "Moon Bay", "edge-m1", "M1-main", "M1-side", "Moon 1", "rival",
                 "住户away")
# answers that are not the tenant's data: the platform's own, or a catalogue of models
NOT_TENANT_DATA = {"/openapi.json", "/health", "/metrics", "/device-models"}


@pytest.fixture
async def world(client: Client, sessions: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(client, sessions)


def _leaks(body: Any) -> list[str]:
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return [m for m in RIVAL_MARKERS if m in text]


async def test_no_get_route_shows_another_companys_rows(world: World) -> None:
    """Every parameterless GET route, for acme's admin and manager, JSON and CSV."""
    failures: list[str] = []
    checked = 0
    for ep in world.client.app[ENDPOINTS]:
        path = openapi_path(ep.path)
        if ep.method != "GET" or "{" in path or ep.public or path in NOT_TENANT_DATA:
            continue
        case = CASES[("GET", path)]
        base = path + (case.query(world) if case.query is not None else "")
        fields = ep.query.model_fields if ep.query is not None else {}
        variants = [base]
        if "format" in fields:
            variants.append(base + ("&" if "?" in base else "?") + "format=csv")
        for role in ACME_ROLES:
            if role not in ep.allowed_roles:
                continue
            for concrete in variants:
                status, body = await world.call("GET", concrete, role)
                checked += 1
                if path == "/live":  # no upgrade: nothing but the refusal comes back
                    continue
                if status != 200:
                    failures.append(f"{role} GET {concrete}: {status} {body!r:.200}")
                elif leaked := _leaks(body):
                    failures.append(f"{role} GET {concrete}: shows {leaked}")
    assert not failures, "\n".join(failures)
    assert checked > 100


async def test_naming_another_companys_site_is_refused(world: World) -> None:
    """Every route that takes a `site_id` (in its query or its body): rival's site is 403."""
    failures: list[str] = []
    checked = 0
    for ep in world.client.app[ENDPOINTS]:
        path = openapi_path(ep.path)
        if "{" in path:
            continue
        for role in ACME_ROLES:
            if role not in ep.allowed_roles:
                continue
            if ep.method == "GET" and ep.query is not None and "site_id" in ep.query.model_fields:
                case = CASES[("GET", path)]
                query = case.query(world) if case.query is not None else ""
                query = (query.replace("site_id=sunrise", "site_id=moonbay") if "site_id=" in query
                         else query + ("&" if query else "?") + "site_id=moonbay")
                status, body = await world.call("GET", path + query, role)
            elif ep.method == "POST" and ep.body is not None and \
                    "site_id" in ep.body.model_fields and CASES[("POST", path)].body is not None:
                body_in = CASES[("POST", path)].body(world, "away")  # type: ignore[misc]
                status, body = await world.call("POST", path, role, json=body_in)
            else:
                continue
            checked += 1
            if status != 403 and not (ep.method == "POST" and status == 422):
                failures.append(f"{role} {ep.method} {path} naming moonbay: {status} {body!r:.200}")
            elif leaked := _leaks(body if status == 422 else ""):
                failures.append(f"{role} {ep.method} {path}: the refusal shows {leaked}")
    assert not failures, "\n".join(failures)
    assert checked > 20


async def test_live_pushes_of_another_company_never_arrive(world: World) -> None:
    """acme's admin listens on every channel a company admin may: of a push to each company's
    site only acme's arrives, and a platform admin hears both."""
    bus = world.client.app[LIVE]
    channels = "access,alarms,devices,edges,door,camera,work_orders,patrol,vehicles,homesec"

    async def opened(n: int) -> None:
        async def registered() -> bool:
            return bool(bus.listeners == n)
        await until(registered)

    acme = {"Authorization": f"Bearer {world.tokens['company_admin']}"}
    platform = {"Authorization": f"Bearer {world.tokens['admin']}"}
    async with world.client.ws_connect(f"/api/v1/live?channels={channels}", headers=acme) as ws, \
            world.client.ws_connect(f"/api/v1/live?channels={channels}",
                                    headers=platform) as admin_ws:
        await opened(2)
        items = [LiveItem(c, {"id": f"{c}-{site}"}, site_id=site)
                 for c in channels.split(",") for site in ("moonbay", "sunrise")]
        await bus.publish(items)
        got = [json.loads((await ws.receive(timeout=5)).data)["data"]["id"]
               for _ in range(len(items) // 2)]
        assert got == [f"{c}-sunrise" for c in channels.split(",")]
        heard = [json.loads((await admin_ws.receive(timeout=5)).data)["data"]["id"]
                 for _ in items]
        assert len(heard) == len(items)
        await bus.publish([LiveItem("alarms", {"id": "late"}, site_id="moonbay"),
                           LiveItem("alarms", {"id": "marker"}, site_id="sunrise")])
        msg = await ws.receive(timeout=5)
        assert msg.type == WSMsgType.TEXT and json.loads(msg.data)["data"]["id"] == "marker"


async def test_a_company_admin_keeps_their_company_and_nothing_else(world: World) -> None:
    """They see and make their company's sites and staff; another company's, a platform
    admin, or a move out of their company are refused, saying why, and change nothing."""
    _, sites = await world.call("GET", "/sites", "company_admin", 200)
    assert {s["id"] for s in sites["items"]} == {"sunrise"}
    _, made = await world.call("POST", "/sites", "company_admin", 201,
                               json={"id": "sunset", "name": "Sunset Court"})
    assert made["company_id"] == "acme"
    # the new site is theirs at once: a manager for it, listed
    await world.call("POST", "/users", "company_admin", 201, json={
        "username": "sunset-mgr", "password": PASSWORD, "role": "manager", "site_id": "sunset"})
    _, sites = await world.call("GET", "/sites", "company_admin", 200)
    assert {s["id"] for s in sites["items"]} == {"sunrise", "sunset"}
    _, companies = await world.call("GET", "/companies", "company_admin", 200)
    assert [c["id"] for c in companies["items"]] == ["acme"]

    refusals = [
        ({"username": "boss", "password": PASSWORD, "role": "admin"}, "platform admin"),
        ({"username": "boss2", "password": PASSWORD, "role": "company_admin",
          "company_id": "rival"}, "'rival' is not yours"),
        ({"username": "spy", "password": PASSWORD, "role": "manager", "site_id": "moonbay"},
         "outside your company"),
    ]
    for body, why in refusals:
        _, refused = await world.call("POST", "/users", "company_admin", 403, json=body)
        assert why in refused["detail"], refused
    _, refused = await world.call("POST", "/sites", "company_admin", 403,
                                  json={"id": "elsewhere", "name": "X", "company_id": "rival"})
    assert "rival" in refused["detail"]
    await world.call("PATCH", "/sites/sunrise", "company_admin", 403, json={"company_id": "rival"})
    await world.call("PATCH", "/sites/moonbay", "company_admin", 404, json={"name": "mine"})
    await world.call("POST", "/companies", "company_admin", 403, json={"id": "x", "name": "X"})
    # a fellow company admin is theirs; the platform admin and rival's staff are not there
    _, fellow = await world.call("POST", "/users", "company_admin", 201, json={
        "username": "acme-2", "password": PASSWORD, "role": "company_admin"})
    assert fellow["company_id"] == "acme"
    _, users = await world.call("GET", "/users", "company_admin", 200)
    names = {u["username"] for u in users["items"]}
    assert {"acme-2", "company_admin", "manager", "sunset-mgr"} <= names
    assert "admin" not in names and world.ids["users"]["away"] not in {
        u["id"] for u in users["items"]}
    _, everyone = await world.call("GET", "/users", "admin", 200)
    platform_admin = next(u["id"] for u in everyone["items"] if u["username"] == "admin")
    await world.call("PATCH", f"/users/{platform_admin}", "company_admin", 404,
                     json={"disabled": True})
    # nor may they make one of their own users a platform admin
    _, refused = await world.call("PATCH", f"/users/{fellow['id']}", "company_admin", 403,
                                  json={"role": "admin"})
    assert "platform admin" in refused["detail"]


async def test_the_platform_admin_moves_a_site_between_companies(world: World) -> None:
    await world.call("GET", "/edges/" + str(world.ids["edges"]["away"]), "company_admin", 404)
    await world.call("PATCH", "/sites/moonbay", "admin", 200, json={"company_id": "acme"})
    # the company admin's next request sees it (the scope is read with each token)
    await world.call("GET", "/edges/" + str(world.ids["edges"]["away"]), "company_admin", 200)
    _, unknown = await world.call("PATCH", "/sites/moonbay", "admin", 422,
                                  json={"company_id": "nobody"})
    assert unknown["detail"][0]["field"] == "company_id"
