"""A registry with three places and a user per role, built through the API as the admin.

Places: `home` (sunrise, unit 101: the resident user's household), `neighbour` (sunrise,
unit 102: another household of the same site) and `away` (moonbay, unit 901). Sunrise belongs
to the company `acme`, moonbay to `rival`: the company admin is acme's, so everything of
`away` is another company's to them (and to sunrise's staff).

Beside the registry: holidays, anti-passback pairs, remote commands, devices, visitor passes
and phone keys in each place; the resident user acts as the home resident (`/me`).
"""

from __future__ import annotations

import base64
import itertools
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.models import (
    AccessEvent,
    Device,
    Door,
    Edge,
    EventLog,
    PermissionVersion,
    PhoneKey,
    ResidentAccount,
)
from tests.hub.api.conftest import PASSWORD
from wire import new_event_id

Client = TestClient[Any, Any]
API = "/api/v1"
PLACES = ("home", "neighbour", "away")
SITE = {"home": "sunrise", "neighbour": "sunrise", "away": "moonbay"}
ROLES = ("admin", "company_admin", "manager", "guard", "technician", "resident")
COMPANY_OF = {"sunrise": "acme", "moonbay": "rival"}
ALWAYS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "24:00"}]
# a valid 18-digit mainland ID number (GB 11643 check digit)
ID_NUMBER = "11010519491231002X"
_counter = itertools.count(1000)


def unique(prefix: str = "x") -> str:
    return f"{prefix}{next(_counter)}"


def unique_day() -> str:
    return (date(2030, 1, 1) + timedelta(days=next(_counter))).isoformat()


def phone_key() -> str:
    """A fresh Ed25519-sized public key (32 bytes, base64); its value is never verified here."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


# each site's two doors on one edge (the seed's, and M1-side added by build_world)
DOORS = {"sunrise": ("B1-main", "B1-garage"), "moonbay": ("M1-main", "M1-side")}


def pass_body(unit_id: int, place: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "visitor_name": "访客",
        "visitor_phone": "13800000000",
        "unit_id": unit_id,
        "doors": [DOORS[SITE[place]][0]],
        "valid_from": now.isoformat(),
        "valid_until": (now + timedelta(hours=4)).isoformat(),
    }


def plate() -> str:
    """A fresh plate, e.g. 粤B01001."""
    return f"粤B{next(_counter):05d}"


def vehicle_body(w: World, place: str) -> dict[str, Any]:
    return {"household_id": w.ids["households"][place], "plate": plate()}


def vehicle_pass_body(w: World, place: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"household_id": w.ids["households"][place], "plate": plate(),
            "valid_from": now.isoformat(), "valid_until": (now + timedelta(hours=4)).isoformat()}


def passback_body(place: str) -> dict[str, Any]:
    entry, exit_ = DOORS[SITE[place]]
    return {"site_id": SITE[place], "name": unique("apb"), "entry_door": entry, "exit_door": exit_}


@dataclass
class World:
    client: Client
    sessions: async_sessionmaker[AsyncSession]
    tokens: dict[str, str] = field(default_factory=dict)  # role -> bearer token
    ids: dict[str, dict[str, Any]] = field(default_factory=dict)  # resource -> place -> id
    building: dict[str, int] = field(default_factory=dict)  # place -> building id
    unit: dict[str, int] = field(default_factory=dict)  # place -> unit id
    share_code: str = ""  # of the home visitor pass's share link

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
        raw = await resp.read()
        body: Any = raw  # an image stays bytes
        if resp.content_type == "application/json" and raw:
            body = await resp.json()
        elif resp.content_type.startswith("text/") or not raw:
            body = raw.decode()
        if status is not None:
            assert resp.status == status, f"{role} {method} {path}: {resp.status} {body!r:.500}"
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
        if resource == "sites":  # renamed in place
            return site
        if resource in ("doors", "edges"):  # changed or commanded in place, never deleted
            return self.ids[resource][place]
        if resource == "security-panels":  # each on a panel device and a unit of its own
            path, body = INSTALLED["installed-devices"](self, place)
            device = await self.make("POST", path, {**body, "model": "alarm-panel-8z"})
            unit = await self.fresh("units", place)
            return await self.make("POST", "/security-panels",
                                   {"device_id": device, "unit_id": unit})
        if resource == "lifts":  # each on a controller of its own
            path, body = INSTALLED["installed-devices"](self, place)
            self.ids["lift-devices"][place].append(
                await self.make("POST", path, {**body, "model": "elevator-vvvf-a"}))
        if resource in INSTALLED:  # issue 15: parts an installer adds, changes and removes
            return await self.make("POST", *INSTALLED[resource](self, place))
        if resource == "holidays":
            return await self.make("POST", "/holidays", {"site_id": site, "day": unique_day()})
        if resource == "anti-passback":
            return await self.make("POST", "/anti-passback", passback_body(place))
        if resource == "visitor-passes":
            return await self.make("POST", "/visitor-passes", pass_body(self.unit[place], place))
        if resource == "vehicles":
            return await self.make("POST", "/vehicles", vehicle_body(self, place))
        if resource == "vehicle-passes":
            return await self.make("POST", "/vehicle-passes", vehicle_pass_body(self, place))
        if resource == "lane-decisions":  # a lane's decision, as the ingest stores it
            event = EventLog(
                id=new_event_id(), kind="vehicle", site_id=site, edge="gate", device="gate-in",
                seq=next(_counter), ts=datetime.now(UTC), data={
                    "lane": "gate-in", "direction": "entry", "plate": plate(),
                    "confidence": 0.6, "result": "open", "reason": "temporary",
                    "decision_us": 10, "offline": False})
            event_id = event.id  # the commit expires the row
            async with self.sessions() as session, session.begin():
                session.add(event)
            return event_id
        if resource == "parking-spaces":
            return await self.make("POST", "/parking-spaces", {
                "household_id": self.ids["households"][place], "code": unique("P"),
                "kind": "rented"})
        if resource == "blocked-plates":
            return await self.make("POST", "/blocked-plates", {"site_id": site, "plate": plate()})
        if resource == "phone-keys":
            async with self.sessions() as session, session.begin():
                key = PhoneKey(
                    site_id=site, resident_id=self.ids["residents"][place], public_key=phone_key()
                )
                session.add(key)
                await session.flush()
                return key.id
        if resource == "alarms":
            return await add_alarm(self.sessions, site, unique("alarm"))
        if resource == "patrol-rounds":  # readings are posted to it in place
            return self.ids[resource][place]
        if resource == "notices":
            return await self.make("POST", "/notices", notice_body(self.unit[place], place))
        if resource == "meters":
            return await self.make("POST", "/meters", meter_body(self.unit[place], place))
        if resource.startswith("work-orders") or resource in ("equipment", "technicians"):
            from tests.hub.api.workorder_world import STATE_OF, fresh_work_order

            if resource in STATE_OF:
                return await fresh_work_order(self, resource, place)
            return self.ids[resource][place]  # changed in place, never deleted
        raise AssertionError(f"no factory for {resource}")


def _part(path: str, **body: Any) -> Any:
    return lambda w, p: (path, {"edge_id": w.ids["edges"][p], "name": unique("p"), **body})


# how to make a fresh installation part in a place: (world, place) -> (path, body)
INSTALLED: dict[str, Any] = {
    "new-edges": lambda w, p: ("/edges", {"site_id": SITE[p], "name": unique("e")}),
    "lines": lambda w, p: ("/lines", {"edge_id": w.ids["edges"][p], "name": unique("l"),
                                      "port": f"/dev/ttyUSB{unique('')}", "protocol": "osdp"}),
    "new-doors": _part("/doors"),
    "installed-devices": _part("/devices", model="fire-panel-8z", transport="tcp",
                               host="10.0.0.5"),
    "cameras": _part("/cameras", source="rtsp://10.0.0.9/stream"),
    "lanes": _part("/lanes", direction="entry", camera_secret="camera-secret"),
    "lifts": lambda w, p: ("/lifts", {"device_id": w.ids["lift-devices"][p].pop(),
                                      "name": unique("lift"),
                                      "floors": [{"floor": 1, "label": "1"}]}),
}


async def _installation(world: World) -> None:
    """A line, a camera and a lift per site (each lift's controller installed first)."""
    for resource in ("lines", "cameras", "installed-devices", "lanes"):
        by_site = {s: await world.fresh(resource, p)
                   for p, s in (("home", "sunrise"), ("away", "moonbay"))}
        world.ids[resource] = {p: by_site[SITE[p]] for p in PLACES}
    # lift controllers nothing drives yet: the role matrix's POST /lifts takes one per
    # caller and place
    world.ids["lift-devices"] = {place: [] for place in PLACES}
    for place in PLACES:
        for _ in range(len(ROLES) + 1):
            path, body = INSTALLED["installed-devices"](world, place)
            body["model"] = "elevator-vvvf-a"
            world.ids["lift-devices"][place].append(await world.make("POST", path, body))
    by_site = {s: await world.fresh("lifts", p)
               for p, s in (("home", "sunrise"), ("away", "moonbay"))}
    world.ids["lifts"] = {p: by_site[SITE[p]] for p in PLACES}
    # home security: each place's unit guarded by a panel; spare panel devices and units
    # for the role matrix's POST /security-panels (one per caller and place)
    world.ids["security-panels"] = {}
    world.ids["panel-devices"] = {place: [] for place in PLACES}
    world.ids["panel-units"] = {place: [] for place in PLACES}
    for place in PLACES:
        path, body = INSTALLED["installed-devices"](world, place)
        device = await world.make("POST", path, {**body, "model": "alarm-panel-8z"})
        world.ids["security-panels"][place] = await world.make(
            "POST", "/security-panels", {"device_id": device, "unit_id": world.unit[place]})
        for _ in range(len(ROLES) + 1):
            path, body = INSTALLED["installed-devices"](world, place)
            world.ids["panel-devices"][place].append(
                await world.make("POST", path, {**body, "model": "alarm-panel-8z"}))
            world.ids["panel-units"][place].append(await world.fresh("units", place))


async def build_world(client: Client, sessions: async_sessionmaker[AsyncSession]) -> World:
    world = World(client, sessions)
    async with sessions() as session, session.begin():
        if session.bind.dialect.name == "postgresql":
            # the seed gave units 101 and 901 explicit ids; move the sequence past them
            await session.execute(text("SELECT setval('units_id_seq', 1000)"))
    world.tokens["admin"] = await world.login("admin")
    for site, company in COMPANY_OF.items():  # two companies, a site each
        await world.call("POST", "/companies", json={"id": company, "name": company.title()},
                         status=201)
        await world.call("PATCH", f"/sites/{site}", json={"company_id": company}, status=200)
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
    world.ids["meters"] = {p: await world.fresh("meters", p) for p in PLACES}
    for resource in ("schedules", "access-groups"):
        by_site = {
            s: await world.fresh(resource, p) for p, s in (("home", "sunrise"), ("away", "moonbay"))
        }
        world.ids[resource] = {p: by_site[SITE[p]] for p in PLACES}
    async with sessions() as session, session.begin():
        edge_m1 = await session.scalar(select(Edge.id).where(Edge.name == "edge-m1"))
        session.add(Door(site_id="moonbay", edge_id=edge_m1, name="M1-side", label="Side"))
        # every edge holds a published snapshot, as the compiler leaves it (a reset names it)
        for edge_id in await session.scalars(select(Edge.id)):
            session.add(PermissionVersion(edge_id=edge_id, version=1, hash="0" * 64,
                                          published_at=datetime(2026, 1, 1, tzinfo=UTC)))
    _, doors = await world.call("GET", "/doors", status=200)
    _, edges = await world.call("GET", "/edges", status=200)
    for resource, listing in (("doors", doors), ("edges", edges)):
        by_site = {item["site_id"]: item["id"] for item in listing["items"]}
        world.ids[resource] = {p: by_site[SITE[p]] for p in PLACES}

    # one user per role: staff of sunrise, the resident user in the home household
    users = {}
    for role in ("company_admin", "manager", "guard", "technician", "resident"):
        body: dict[str, Any] = {"username": role, "password": PASSWORD, "role": role}
        if role == "company_admin":
            body["company_id"] = COMPANY_OF["sunrise"]
        elif role == "resident":
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
    await _beside_the_registry(world, users["resident"])
    await _camera_alerts(world)
    await _installation(world)
    return world


async def _beside_the_registry(world: World, resident_user: int) -> None:
    """Holidays, anti-passback pairs, commands, devices, visitor passes and phone keys."""
    for resource in ("holidays", "anti-passback"):
        by_site = {
            s: await world.fresh(resource, p) for p, s in (("home", "sunrise"), ("away", "moonbay"))
        }
        world.ids[resource] = {p: by_site[SITE[p]] for p in PLACES}
    world.ids["commands"] = {}
    for place in PLACES:
        _, command = await world.call(
            "POST",
            f"/doors/{world.ids['doors'][place]}/unlock",
            json={"reason": "test"},
            status=202,
        )
        world.ids["commands"][place] = command["id"]
    world.ids["visitor-passes"] = {}
    for place in PLACES:
        _, issued = await world.call(
            "POST", "/visitor-passes", json=pass_body(world.unit[place], place), status=201
        )
        world.ids["visitor-passes"][place] = issued["id"]
        if place == "home":
            world.share_code = issued["share_url"].rsplit("code=", 1)[1]
    world.ids["phone-keys"] = {p: await world.fresh("phone-keys", p) for p in PLACES}
    devices = {}
    async with world.sessions() as session, session.begin():
        session.add(
            ResidentAccount(user_id=resident_user, resident_id=world.ids["residents"]["home"])
        )
        for place in PLACES:
            edge = "edge-b1" if SITE[place] == "sunrise" else "edge-m1"
            device = Device(
                site_id=SITE[place],
                edge=edge,
                name=f"lift-{place}",
                device_type="elevator",
                model="test",
                status="online",
            )
            session.add(device)
            await session.flush()
            devices[place] = device.id
    world.ids["devices"] = devices
    world.ids["alarms"] = {p: await world.fresh("alarms", p) for p in PLACES}
    world.ids["notices"] = {p: await world.fresh("notices", p) for p in PLACES}
    from tests.hub.api.workorder_world import add_work_orders

    await add_work_orders(world, resident_user)
    from tests.hub.api.patrol_world import add_patrol

    await add_patrol(world)


def meter_body(unit_id: int, place: str) -> dict[str, Any]:
    """A new electricity meter in the place's unit, read by the site's edge."""
    number = f"{next(_METER_NUMBERS):012d}"
    return {"site_id": SITE[place], "unit_id": unit_id, "kind": "electricity",
            "number": number, "edge": "edge-b1" if SITE[place] == "sunrise" else "edge-m1",
            "device": f"meter-{number}"}


_METER_NUMBERS = itertools.count(100000000001)


def notice_body(unit_id: int, place: str) -> dict[str, Any]:
    return {"site_id": SITE[place], "unit_id": unit_id, "title": "停水通知",
            "body": "明天 9:00-12:00 停水"}


async def add_alarm(sessions: async_sessionmaker[AsyncSession], site: str, key: str) -> int:
    """An active alarm, as a rule would raise it."""
    from hub.rules.models import Alarm

    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        alarm = Alarm(site_id=site, type="door_forced_open", severity="critical", dedup_key=key,
                      message="Door forced open", state="active", count=1, first_seen=now,
                      last_seen=now, raised_at=now, rule="door-forced-open")
        session.add(alarm)
        await session.flush()
        return alarm.id


SNAPSHOT_UPLOAD_QUERY = (
    "?id=0190aaaa-0000-7000-8000-0000000000ff&camera=cam-1&ts=2026-01-01T08:00:00Z"
)


async def _camera_alerts(world: World) -> None:
    """A camera alert per place, as the ingest stores them, with its snapshot uploaded."""
    from hub.cameras.models import CameraAlert, Snapshot

    world.ids["camera-alerts"], world.ids["snapshots"] = {}, {}
    async with world.sessions() as session, session.begin():
        for seq, place in enumerate(PLACES):
            event_id = f"0190bbbb-0000-7000-8000-00000000000{seq}"
            snapshot_id = f"0190cccc-0000-7000-8000-00000000000{seq}"
            edge = "edge-b1" if SITE[place] == "sunrise" else "edge-m1"
            ts = datetime(2026, 1, 1, 9, seq, tzinfo=UTC)
            session.add(EventLog(id=event_id, kind="camera", site_id=SITE[place], edge=edge,
                                 device="cam-1", seq=100 + seq, ts=ts, data={}))
            await session.flush()
            session.add(CameraAlert(id=event_id, site_id=SITE[place], edge=edge, camera="cam-1",
                                    event="motion", zone="lobby", area=0.2,
                                    snapshot_id=snapshot_id, ts=ts))
            session.add(Snapshot(id=snapshot_id, site_id=SITE[place], edge=edge, camera="cam-1",
                                 kind="snapshot", content_type="image/jpeg", size=4, ts=ts,
                                 expires_at=datetime(2100, 1, 1, tzinfo=UTC),
                                 data=b"\xff\xd8\xff\xd9"))
            world.ids["camera-alerts"][place] = event_id
            world.ids["snapshots"][place] = snapshot_id
