"""A registry with three places and a user per role, built through the API as the admin.

Places: `home` (sunrise, unit 101: the resident user's household), `neighbour` (sunrise,
unit 102: another household of the same site) and `away` (moonbay, unit 901).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.models import AccessEvent, EventLog
from tests.hub.api.conftest import PASSWORD

Client = TestClient[Any, Any]
API = "/api/v1"
PLACES = ("home", "neighbour", "away")
SITE = {"home": "sunrise", "neighbour": "sunrise", "away": "moonbay"}
ROLES = ("admin", "manager", "guard", "technician", "resident")
ALWAYS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "24:00"}]
# a valid 18-digit mainland ID number (GB 11643 check digit)
ID_NUMBER = "11010519491231002X"
_counter = itertools.count(1000)


def unique(prefix: str = "x") -> str:
    return f"{prefix}{next(_counter)}"


@dataclass
class World:
    client: Client
    tokens: dict[str, str] = field(default_factory=dict)  # role -> bearer token
    ids: dict[str, dict[str, Any]] = field(default_factory=dict)  # resource -> place -> id
    building: dict[str, int] = field(default_factory=dict)  # place -> building id
    unit: dict[str, int] = field(default_factory=dict)  # place -> unit id

    async def call(
        self,
        method: str,
        path: str,
        role: str | None = "admin",
        status: int | None = None,
        **kwargs: Any,
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        headers.update(kwargs.pop("headers", {}))
        resp = await self.client.request(method, API + path, headers=headers, **kwargs)
        text = await resp.text()
        body = await resp.json() if text and resp.content_type == "application/json" else text
        if status is not None:
            assert resp.status == status, f"{role} {method} {path}: {resp.status} {text}"
        return resp.status, body

    async def make(self, method: str, path: str, body: dict[str, Any]) -> Any:
        return (await self.call(method, path, json=body, status=201))[1]["id"]

    async def login(self, username: str) -> str:
        resp = await self.client.post(
            API + "/auth/login", json={"username": username, "password": PASSWORD}
        )
        assert resp.status == 200, await resp.text()
        # the test client keeps the session cookie; each call here sends its own token
        self.client.session.cookie_jar.clear()
        return str((await resp.json())["token"])

    # --- fresh objects, for the calls that change or delete one --------------------------

    async def fresh(self, resource: str, place: str) -> Any:
        site = SITE[place]
        if resource == "residents":
            return await self.make(
                "POST", "/residents", {"site_id": site, "name": "临时", "unit_id": self.unit[place]}
            )
        if resource == "cards":
            return await self.make(
                "POST",
                "/cards",
                {"resident_id": self.ids["residents"][place], "card_number": unique("")},
            )
        if resource == "units":
            return await self.make(
                "POST", "/units", {"building_id": self.building[place], "number": unique("u")}
            )
        if resource == "households":
            unit = await self.fresh("units", place)
            return await self.make("POST", "/households", {"unit_id": unit})
        if resource == "buildings":
            return await self.make(
                "POST", "/buildings", {"site_id": site, "code": unique("B"), "name": "楼"}
            )
        if resource == "schedules":
            return await self.make(
                "POST", "/schedules", {"site_id": site, "name": unique("s"), "windows": ALWAYS}
            )
        if resource == "access-groups":
            return await self.make("POST", "/access-groups", {"site_id": site, "name": unique("g")})
        if resource == "users":
            return await self.make(
                "POST",
                "/users",
                {
                    "username": unique("guard"),
                    "password": PASSWORD,
                    "role": "guard",
                    "site_id": site,
                },
            )
        raise AssertionError(f"no factory for {resource}")


async def build_world(client: Client, sessions: async_sessionmaker[AsyncSession]) -> World:
    world = World(client)
    async with sessions() as session, session.begin():
        if session.bind.dialect.name == "postgresql":
            # the seed gave units 101 and 901 explicit ids; move the sequence past them
            await session.execute(text("SELECT setval('units_id_seq', 1000)"))
    world.tokens["admin"] = await world.login("admin")
    _, buildings = await world.call("GET", "/buildings", status=200)
    code = {b["site_id"]: b["id"] for b in buildings["items"]}
    world.building = {p: code[SITE[p]] for p in PLACES}
    unit_102 = await world.make("POST", "/units", {"building_id": code["sunrise"], "number": "102"})
    world.unit = {"home": 101, "neighbour": unit_102, "away": 901}

    residents, households, cards = {}, {}, {}
    for place in PLACES:
        _, r = await world.call(
            "POST",
            "/residents",
            json={
                "site_id": SITE[place],
                "name": f"住户{place}",
                "unit_id": world.unit[place],
                "type": "owner",
                "phone": "13800000000",
                "id_number": ID_NUMBER if place == "home" else None,
            },
            status=201,
        )
        residents[place], households[place] = r["id"], r["household_id"]
        cards[place] = await world.make(
            "POST", "/cards", {"resident_id": r["id"], "card_number": unique("")}
        )
    world.ids["residents"], world.ids["households"], world.ids["cards"] = (
        residents,
        households,
        cards,
    )
    world.ids["units"] = dict(world.unit)
    world.ids["buildings"] = dict(world.building)
    world.ids["sites"] = dict(SITE)
    for resource in ("schedules", "access-groups"):
        by_site = {
            s: await world.fresh(resource, p) for p, s in (("home", "sunrise"), ("away", "moonbay"))
        }
        world.ids[resource] = {p: by_site[SITE[p]] for p in PLACES}
    _, doors = await world.call("GET", "/doors", status=200)
    _, edges = await world.call("GET", "/edges", status=200)
    for resource, listing in (("doors", doors), ("edges", edges)):
        by_site = {item["site_id"]: item["id"] for item in listing["items"]}
        world.ids[resource] = {p: by_site[SITE[p]] for p in PLACES}

    # one user per role: staff of sunrise, the resident user in the home household
    users = {}
    for role in ("manager", "guard", "technician", "resident"):
        body: dict[str, Any] = {"username": role, "password": PASSWORD, "role": role}
        if role == "resident":
            body["household_id"] = households["home"]
        else:
            body["site_id"] = "sunrise"
        users[role] = await world.make("POST", "/users", body)
        world.tokens[role] = await world.login(role)
    away_guard = await world.fresh("users", "away")
    world.ids["users"] = {"home": users["guard"], "neighbour": users["guard"], "away": away_guard}

    # an access event per place, as the ingest would store them
    events = {}
    async with sessions() as session, session.begin():
        for seq, place in enumerate(PLACES):
            event_id = f"0190aaaa-0000-7000-8000-00000000000{seq}"
            edge = "edge-b1" if SITE[place] == "sunrise" else "edge-m1"
            ts = datetime(2026, 1, 1, 8, seq, tzinfo=UTC)
            session.add(
                EventLog(
                    id=event_id,
                    kind="access",
                    site_id=SITE[place],
                    edge=edge,
                    device="d",
                    seq=seq,
                    ts=ts,
                    data={},
                )
            )
            await session.flush()
            session.add(
                AccessEvent(
                    id=event_id,
                    site_id=SITE[place],
                    edge=edge,
                    door="door",
                    ts=ts,
                    credential_type="card",
                    credential="1",
                    resident_id=residents[place],
                    result="granted",
                    reason="granted",
                    decision_us=100,
                )
            )
            events[place] = event_id
    world.ids["access-events"] = events
    return world
