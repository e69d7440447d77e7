"""The role matrix: every endpoint of the app, called by every role (and by nobody), in every
place; each answer must be the one this table expects.

The endpoints are enumerated from the running app, and every one must have a line in
`CASES`: an endpoint added without saying who may call it fails here.

Expected answers:
- no token: 401 (public endpoints: 200);
- a role the endpoint is not for: 403;
- within the role, an object outside the user's scope: 404, as if it did not exist (a
  resident asking for another household's resident, card, unit or household; a sunrise
  manager for anything in moonbay) -- so the answer does not even leak existence;
- a POST naming a site outside the scope: 403 (the caller named it), or 422 where it names
  an object there (a unit, a resident: "unknown", as for one that does not exist);
- lists show exactly the scope: staff their site, a resident their household.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api.core.endpoints import ENDPOINTS
from hub.api.core.openapi import openapi_path
from tests.hub.api.conftest import PASSWORD, count
from tests.hub.api.workorder_world import PNG_B64, SKILLS
from tests.hub.api.world import (
    ALWAYS,
    COMPANY_OF,
    INSTALLED,
    PLACES,
    ROLES,
    SITE,
    SNAPSHOT_UPLOAD_QUERY,
    World,
    build_world,
    meter_body,
    notice_body,
    pass_body,
    passback_body,
    phone_key,
    plate,
    unique,
    unique_day,
    vehicle_body,
    vehicle_pass_body,
)

Client = TestClient[Any, Any]

# SQLite and PostgreSQL; issue 15's installation endpoints made it longer (on PostgreSQL at
# load 12 it once outlasted 300 s; 175 s for the module's six PostgreSQL tests another time)
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

EVERYONE = frozenset(ROLES)
HOUSEHOLD = EVERYONE  # residents too, within their household
STAFF = frozenset({"admin", "company_admin", "manager", "guard", "technician"})
WRITERS = frozenset({"admin", "company_admin", "manager"})
ADMIN = frozenset({"admin"})  # the platform's own
COMPANY = frozenset({"admin", "company_admin"})  # sites and a company's staff
OPERATORS = frozenset({"admin", "company_admin", "manager", "guard"})  # remote door control
GUARD = frozenset({"guard"})  # patrol rounds are walked by guards themselves
ISSUERS = OPERATORS | {"resident"}  # visitor passes
RESIDENT = frozenset({"resident"})  # the /me endpoints
TECHNICIAN = frozenset({"technician"})  # picking an open work order
WO_OPENERS = WRITERS | RESIDENT  # work orders; a resident's is a repair request
WO_WORKERS = WRITERS | TECHNICIAN
WO_CLOSERS = WRITERS | RESIDENT  # a resident confirms their repair

Body = Callable[[World, str], Any]  # (world, place) -> JSON body


@dataclass(frozen=True)
class Case:
    roles: frozenset[str] = frozenset()
    public: bool = False
    resource: str | None = None  # the ids a list shows, or the object an item path names
    body: Body | None = None
    csv: Callable[[str], str] | None = None  # (place) -> CSV text, for the imports
    away: int = 403  # what a site-scoped writer gets for a POST into another site
    ok: int | None = None  # the success status when it is not the method's usual one
    own: bool = False  # the body names no place: the caller's own (a resident's phone key)
    query: Callable[[World], str] | None = None  # a query string the call needs
    edge: bool = False  # authenticated by an edge's upload token: every user's token is 401


def _resident(w: World, place: str) -> dict[str, Any]:
    return {"site_id": SITE[place], "name": "新住户", "unit_id": w.unit[place]}


CASES: dict[tuple[str, str], Case] = {
    ("GET", "/health"): Case(public=True),
    ("GET", "/openapi.json"): Case(public=True),
    ("GET", "/metrics"): Case(public=True),
    ("POST", "/auth/login"): Case(
        public=True, body=lambda w, p: {"username": "admin", "password": PASSWORD}, ok=200
    ),
    ("POST", "/auth/logout"): Case(EVERYONE, ok=204),
    ("GET", "/auth/me"): Case(EVERYONE),
    ("GET", "/sites"): Case(STAFF, resource="sites"),
    ("POST", "/sites"): Case(COMPANY, body=lambda w, p: {"id": unique("site"), "name": "新小区",
                                                         "company_id": COMPANY_OF[SITE[p]]}),
    ("PATCH", "/sites/{id}"): Case(COMPANY, resource="sites", body=lambda w, p: {"name": "改名"}),
    # issue 19: companies above sites (the platform admin adds them; a company admin reads theirs)
    ("GET", "/companies"): Case(COMPANY),
    ("POST", "/companies"): Case(ADMIN, body=lambda w, p: {"id": unique("co"), "name": "新公司"}),
    ("GET", "/doors"): Case(STAFF, resource="doors"),
    ("GET", "/edges"): Case(STAFF, resource="edges"),
    ("GET", "/edges/{id}"): Case(STAFF, resource="edges"),
    ("GET", "/access-events"): Case(HOUSEHOLD, resource="access-events"),
    ("GET", "/dead-letters"): Case(ADMIN),
    ("GET", "/residents"): Case(HOUSEHOLD, resource="residents"),
    ("POST", "/residents"): Case(WRITERS, body=_resident),
    ("GET", "/residents/{id}"): Case(HOUSEHOLD, resource="residents"),
    ("PATCH", "/residents/{id}"): Case(
        WRITERS, resource="residents", body=lambda w, p: {"phone": "13900000000"}
    ),
    ("DELETE", "/residents/{id}"): Case(WRITERS, resource="residents"),
    ("POST", "/residents/{id}/pin"): Case(
        WRITERS, resource="residents", body=lambda w, p: {"pin": "2580", "duress_pin": "2581"},
        away=404, ok=200
    ),
    ("DELETE", "/residents/{id}/pin"): Case(WRITERS, resource="residents"),
    ("POST", "/me/pin"): Case(RESIDENT, body=lambda w, p: {"pin": "369258"}, own=True, ok=200),
    ("GET", "/card-formats"): Case(STAFF),
    ("POST", "/card-formats"): Case(
        WRITERS, body=lambda w, p: {"site_id": SITE[p], "facility_codes": [12]}, ok=200
    ),
    ("GET", "/cards"): Case(HOUSEHOLD, resource="cards"),
    ("POST", "/cards"): Case(
        WRITERS,
        body=lambda w, p: {"resident_id": w.ids["residents"][p], "card_number": unique("")},
        away=422,
    ),
    ("GET", "/cards/{id}"): Case(HOUSEHOLD, resource="cards"),
    ("PATCH", "/cards/{id}"): Case(WRITERS, resource="cards", body=lambda w, p: {"status": "lost"}),
    ("DELETE", "/cards/{id}"): Case(WRITERS, resource="cards"),
    ("POST", "/cards/{id}/replace"): Case(
        WRITERS, resource="cards", body=lambda w, p: {"card_number": unique("")}, ok=201,
        away=404,
    ),
    ("GET", "/schedules"): Case(STAFF, resource="schedules"),
    ("POST", "/schedules"): Case(
        WRITERS, body=lambda w, p: {"site_id": SITE[p], "name": unique("s"), "windows": ALWAYS}
    ),
    ("GET", "/schedules/{id}"): Case(STAFF, resource="schedules"),
    ("PATCH", "/schedules/{id}"): Case(
        WRITERS, resource="schedules", body=lambda w, p: {"name": unique("s")}
    ),
    ("DELETE", "/schedules/{id}"): Case(WRITERS, resource="schedules"),
    ("GET", "/access-groups"): Case(STAFF, resource="access-groups"),
    ("POST", "/access-groups"): Case(
        WRITERS, body=lambda w, p: {"site_id": SITE[p], "name": unique("g")}
    ),
    ("GET", "/access-groups/{id}"): Case(STAFF, resource="access-groups"),
    ("PATCH", "/access-groups/{id}"): Case(
        WRITERS, resource="access-groups", body=lambda w, p: {"name": unique("g")}
    ),
    ("DELETE", "/access-groups/{id}"): Case(WRITERS, resource="access-groups"),
    ("GET", "/buildings"): Case(STAFF, resource="buildings"),
    ("POST", "/buildings"): Case(
        WRITERS, body=lambda w, p: {"site_id": SITE[p], "code": unique("B"), "name": "新楼"}
    ),
    ("GET", "/buildings/{id}"): Case(STAFF, resource="buildings"),
    ("PATCH", "/buildings/{id}"): Case(
        WRITERS, resource="buildings", body=lambda w, p: {"name": "改名"}
    ),
    ("DELETE", "/buildings/{id}"): Case(WRITERS, resource="buildings"),
    ("GET", "/units"): Case(HOUSEHOLD, resource="units"),
    ("POST", "/units"): Case(
        WRITERS,
        body=lambda w, p: {"building_id": w.building[p], "number": unique("u")},
        away=422,
    ),
    ("GET", "/units/{id}"): Case(HOUSEHOLD, resource="units"),
    ("PATCH", "/units/{id}"): Case(
        WRITERS, resource="units", body=lambda w, p: {"status": "rented", "area": 88.5}
    ),
    ("DELETE", "/units/{id}"): Case(WRITERS, resource="units"),
    ("GET", "/households"): Case(HOUSEHOLD, resource="households"),
    ("POST", "/households"): Case(WRITERS, body=None, away=422),  # body needs a fresh unit
    ("GET", "/households/{id}"): Case(HOUSEHOLD, resource="households"),
    ("PATCH", "/households/{id}"): Case(
        WRITERS, resource="households", body=lambda w, p: {"name": "王家"}
    ),
    ("DELETE", "/households/{id}"): Case(WRITERS, resource="households"),
    ("GET", "/users"): Case(WRITERS, resource="users"),
    ("POST", "/users"): Case(
        WRITERS,
        body=lambda w, p: {
            "username": unique("tech"),
            "password": PASSWORD,
            "role": "technician",
            "site_id": SITE[p],
        },
    ),
    ("GET", "/users/{id}"): Case(WRITERS, resource="users"),
    ("PATCH", "/users/{id}"): Case(WRITERS, resource="users", body=lambda w, p: {"disabled": True}),
    ("POST", "/import/units"): Case(
        WRITERS,
        csv=lambda p: (
            f"building,number,floor\n{'B1' if SITE[p] == 'sunrise' else 'M1'},{unique('i')},3\n"
        ),
        ok=200,
    ),
    ("POST", "/doors/{id}/unlock"): Case(
        OPERATORS, resource="doors", body=lambda w, p: {"reason": "快递"}, away=404, ok=202
    ),
    ("POST", "/doors/{id}/install"): Case(
        WRITERS, resource="doors", body=lambda w, p: {"minutes": 10}, away=404, ok=202
    ),
    ("POST", "/doors/{id}/rotate-key"): Case(
        WRITERS, resource="doors", body=lambda w, p: {"reason": "年度换钥 yearly"}, away=404,
        ok=202
    ),
    ("PATCH", "/doors/{id}"): Case(
        WRITERS, resource="doors", body=lambda w, p: {"label": unique("门")}
    ),
    # issue 15: the installation, kept by admins and the site's managers
    ("GET", "/doors/{id}"): Case(STAFF, resource="doors"),
    ("POST", "/doors"): Case(WRITERS, body=lambda w, p: INSTALLED["new-doors"](w, p)[1],
                             away=422),
    ("DELETE", "/doors/{id}"): Case(WRITERS, resource="new-doors"),
    ("POST", "/edges"): Case(WRITERS, body=lambda w, p: INSTALLED["new-edges"](w, p)[1]),
    ("PATCH", "/edges/{id}"): Case(WRITERS, resource="edges", body=lambda w, p: {"label": "楼"}),
    ("DELETE", "/edges/{id}"): Case(WRITERS, resource="new-edges"),
    ("GET", "/lines"): Case(STAFF, resource="lines"),
    ("GET", "/lines/{id}"): Case(STAFF, resource="lines"),
    ("POST", "/lines"): Case(WRITERS, body=lambda w, p: INSTALLED["lines"](w, p)[1], away=422),
    ("PATCH", "/lines/{id}"): Case(WRITERS, resource="lines", body=lambda w, p: {"label": "x"}),
    ("DELETE", "/lines/{id}"): Case(WRITERS, resource="lines"),
    ("GET", "/device-models"): Case(STAFF),
    ("POST", "/devices"): Case(
        WRITERS, body=lambda w, p: INSTALLED["installed-devices"](w, p)[1], away=422),
    ("PATCH", "/devices/{id}"): Case(
        WRITERS, resource="installed-devices", body=lambda w, p: {"poll_interval_s": 2}),
    ("DELETE", "/devices/{id}"): Case(WRITERS, resource="installed-devices"),
    ("GET", "/cameras"): Case(STAFF, resource="cameras"),
    ("GET", "/cameras/{id}"): Case(STAFF, resource="cameras"),
    ("POST", "/cameras"): Case(WRITERS, body=lambda w, p: INSTALLED["cameras"](w, p)[1],
                               away=422),
    ("PATCH", "/cameras/{id}"): Case(WRITERS, resource="cameras", body=lambda w, p: {"label": "x"}),
    ("DELETE", "/cameras/{id}"): Case(WRITERS, resource="cameras"),
    ("GET", "/lanes"): Case(STAFF, resource="lanes"),
    ("GET", "/lanes/{id}"): Case(STAFF, resource="lanes"),
    ("POST", "/lanes/{id}/open"): Case(
        OPERATORS, resource="lanes", body=lambda w, p: {"reason": "临时车放行"}, away=404, ok=202),
    ("POST", "/lanes"): Case(WRITERS, body=lambda w, p: INSTALLED["lanes"](w, p)[1], away=422),
    ("PATCH", "/lanes/{id}"): Case(WRITERS, resource="lanes", body=lambda w, p: {"label": "x"}),
    ("DELETE", "/lanes/{id}"): Case(WRITERS, resource="lanes"),
    ("GET", "/lifts"): Case(STAFF, resource="lifts"),
    ("GET", "/lifts/{id}"): Case(STAFF, resource="lifts"),
    ("POST", "/lifts"): Case(WRITERS, body=lambda w, p: INSTALLED["lifts"](w, p)[1], away=422),
    ("PATCH", "/lifts/{id}"): Case(WRITERS, resource="lifts", body=lambda w, p: {"label": "x"}),
    ("DELETE", "/lifts/{id}"): Case(WRITERS, resource="lifts"),
    # issue 18: home security (a resident their own unit; the control room every unit's arm
    # state and alarms; installers tie a panel to its unit)
    ("GET", "/me/home-security"): Case(RESIDENT),
    ("POST", "/me/home-security/arm"): Case(RESIDENT, body=lambda w, p: {"mode": "stay"},
                                            own=True, ok=200),
    ("POST", "/me/home-security/schedule"): Case(RESIDENT, body=lambda w, p: {"schedule": []},
                                                 own=True, ok=200),
    ("GET", "/security-panels"): Case(OPERATORS, resource="security-panels"),
    ("POST", "/security-panels"): Case(
        WRITERS, body=lambda w, p: {"device_id": w.ids["panel-devices"][p].pop(),
                                    "unit_id": w.ids["panel-units"][p].pop()}, away=422),
    ("PATCH", "/security-panels/{id}"): Case(
        WRITERS, resource="security-panels", body=lambda w, p: {"entry_delay_s": 20}),
    ("DELETE", "/security-panels/{id}"): Case(WRITERS, resource="security-panels"),
    ("GET", "/audit"): Case(WRITERS),
    ("POST", "/edges/{id}/lockdown"): Case(
        OPERATORS, resource="edges", body=lambda w, p: {"reason": "演练"}, away=404, ok=202
    ),
    ("POST", "/edges/{id}/release"): Case(
        OPERATORS, resource="edges", body=lambda w, p: {"reason": "演练结束"}, away=404, ok=202
    ),
    ("POST", "/edges/{id}/reset-permissions"): Case(
        WRITERS, resource="edges", body=lambda w, p: {"reason": "数据库恢复后 after a restore"},
        away=404, ok=202
    ),
    # this app publishes no configurations: an allowed caller reaches the service's 409
    ("POST", "/edges/{id}/reset-config"): Case(
        WRITERS, resource="edges", body=lambda w, p: {"reason": "数据库恢复后 after a restore"},
        away=404, ok=409
    ),
    ("GET", "/commands"): Case(OPERATORS, resource="commands", query=lambda w: "?limit=500"),
    ("GET", "/guard-panel"): Case(OPERATORS),
    ("GET", "/commands/{id}"): Case(OPERATORS, resource="commands"),
    ("GET", "/holidays"): Case(STAFF, resource="holidays"),
    ("POST", "/holidays"): Case(
        WRITERS, body=lambda w, p: {"site_id": SITE[p], "day": unique_day()}
    ),
    ("DELETE", "/holidays/{id}"): Case(WRITERS, resource="holidays"),
    ("GET", "/anti-passback"): Case(STAFF, resource="anti-passback"),
    ("POST", "/anti-passback"): Case(WRITERS, body=lambda w, p: passback_body(p)),
    ("GET", "/anti-passback/{id}"): Case(STAFF, resource="anti-passback"),
    ("PATCH", "/anti-passback/{id}"): Case(
        WRITERS, resource="anti-passback", body=lambda w, p: {"name": unique("apb"), "mode": "soft"}
    ),
    ("DELETE", "/anti-passback/{id}"): Case(WRITERS, resource="anti-passback"),
    ("GET", "/door-states"): Case(STAFF, resource="doors"),
    ("GET", "/devices"): Case(STAFF, resource="devices"),
    ("GET", "/devices/{id}"): Case(STAFF, resource="devices"),
    ("GET", "/devices/{id}/telemetry"): Case(STAFF, resource="devices"),
    ("GET", "/devices/{id}/faults"): Case(STAFF, resource="devices"),
    ("GET", "/me/qr"): Case(RESIDENT),
    # the live feed: a plain GET (no WebSocket upgrade) gets past the roles, then 400
    ("GET", "/live"): Case(EVERYONE, ok=400, query=lambda w: "?channels=notices"),
    ("GET", "/me/phone-keys"): Case(RESIDENT, resource="phone-keys"),
    ("POST", "/me/phone-keys"): Case(
        RESIDENT, body=lambda w, p: {"public_key": phone_key(), "label": "手机"}, own=True
    ),
    ("POST", "/me/phone-keys/{id}/revoke"): Case(RESIDENT, resource="phone-keys", away=404, ok=200),
    ("GET", "/visitor-passes"): Case(HOUSEHOLD, resource="visitor-passes"),
    ("POST", "/visitor-passes"): Case(ISSUERS, body=lambda w, p: pass_body(w.unit[p], p), away=422),
    ("GET", "/visitor-passes/{id}"): Case(HOUSEHOLD, resource="visitor-passes"),
    ("POST", "/visitor-passes/{id}/revoke"): Case(
        ISSUERS, resource="visitor-passes", away=404, ok=200
    ),
    # the QR opens the door: not for a technician (who may read the list)
    ("GET", "/visitor-passes/{id}/qr.png"): Case(ISSUERS, resource="visitor-passes"),
    ("GET", "/visitor-passes/shared.png"): Case(
        public=True, query=lambda w: f"?code={w.share_code}"
    ),
    ("POST", "/import/vehicles"): Case(
        WRITERS,
        csv=lambda p: "building,unit,plate\n" + (
            f"B1,101,{plate()}\n" if SITE[p] == "sunrise" else f"M1,901,{plate()}\n"),
        ok=200,
    ),
    ("POST", "/import/residents"): Case(
        WRITERS,
        csv=lambda p: (
            "building,unit,name\n" + ("B1,101,张三\n" if SITE[p] == "sunrise" else "M1,901,张三\n")
        ),
        ok=200,
    ),
    ("GET", "/alarms"): Case(STAFF, resource="alarms"),
    ("GET", "/alarms/{id}"): Case(STAFF, resource="alarms"),
    ("POST", "/alarms/{id}/acknowledge"): Case(
        OPERATORS, resource="alarms", body=lambda w, p: {"note": "on it"}, away=404, ok=200
    ),
    ("POST", "/alarms/{id}/clear"): Case(
        OPERATORS, resource="alarms", body=lambda w, p: {"note": "checked"}, away=404, ok=200
    ),
    ("POST", "/alarms/{id}/comments"): Case(
        OPERATORS, resource="alarms", body=lambda w, p: {"text": "guard sent"}, away=404
    ),
    ("GET", "/notices"): Case(HOUSEHOLD, resource="notices"),
    ("GET", "/notices/{id}"): Case(HOUSEHOLD, resource="notices"),
    ("POST", "/notices"): Case(WRITERS, body=lambda w, p: notice_body(w.unit[p], p)),
    ("DELETE", "/notices/{id}"): Case(WRITERS, resource="notices"),
    ("GET", "/meters"): Case(STAFF, resource="meters"),
    ("POST", "/meters"): Case(WRITERS, body=lambda w, p: meter_body(w.unit[p], p)),
    ("GET", "/meters/{id}/readings"): Case(STAFF, resource="meters"),
    ("GET", "/meters/consumption"): Case(
        WRITERS, query=lambda w: "?site_id=sunrise&month=2026-11"),
    ("GET", "/reports/alarms"): Case(WRITERS),
    ("GET", "/reports/faults"): Case(WRITERS),
    ("GET", "/reports/denied"): Case(WRITERS),
    ("GET", "/camera-alerts"): Case(OPERATORS, resource="camera-alerts"),
    ("GET", "/camera-alerts/{id}"): Case(OPERATORS, resource="camera-alerts"),
    ("GET", "/snapshots/{id}"): Case(OPERATORS, resource="snapshots"),
    ("POST", "/snapshots"): Case(edge=True, query=lambda w: SNAPSHOT_UPLOAD_QUERY),
    ("POST", "/edges/{id}/upload-token"): Case(COMPANY, resource="edges", away=404),
    # issue 5: work orders (a technician sees their own and the open ones of their skills)
    ("GET", "/work-orders"): Case(HOUSEHOLD, resource="work-orders"),
    ("GET", "/work-orders/{id}"): Case(HOUSEHOLD, resource="work-orders"),
    ("POST", "/work-orders"): Case(
        WO_OPENERS,
        body=lambda w, p: {"title": "漏水", "skill": "plumbing", "unit_id": w.unit[p]},
        away=422,
    ),
    ("POST", "/work-orders/{id}/accept"): Case(
        TECHNICIAN, resource="work-orders-open", body=lambda w, p: {}, away=404, ok=200
    ),
    ("POST", "/work-orders/{id}/start"): Case(
        WO_WORKERS, resource="work-orders", body=lambda w, p: {}, away=404, ok=200
    ),
    ("POST", "/work-orders/{id}/resolve"): Case(
        WO_WORKERS, resource="work-orders-in-progress", body=lambda w, p: {"note": "换了阀门"},
        away=404, ok=200,
    ),
    ("POST", "/work-orders/{id}/close"): Case(
        WO_CLOSERS, resource="work-orders-resolved", body=lambda w, p: {}, away=404, ok=200
    ),
    ("POST", "/work-orders/{id}/reassign"): Case(
        WRITERS, resource="work-orders-open",
        body=lambda w, p: {"technician_id": w.ids["technicians"][p]}, away=404, ok=200,
    ),
    ("POST", "/work-orders/{id}/notes"): Case(
        WO_WORKERS | RESIDENT, resource="work-orders", body=lambda w, p: {"text": "下午在家"},
        away=404,
    ),
    ("POST", "/work-orders/{id}/checklist"): Case(
        WO_WORKERS, resource="work-orders", body=lambda w, p: {"ticks": {}}, away=404, ok=200,
    ),
    ("POST", "/work-orders/{id}/parts"): Case(
        WO_WORKERS, resource="work-orders", body=lambda w, p: {"name": "阀门", "quantity": 1},
        away=404,
    ),
    ("POST", "/work-orders/{id}/photos"): Case(
        WO_WORKERS | RESIDENT, resource="work-orders",
        body=lambda w, p: {"content_base64": PNG_B64}, away=404,
    ),
    ("GET", "/work-order-photos/{id}"): Case(HOUSEHOLD - {"guard"}, resource="work-order-photos"),
    ("POST", "/work-orders/{id}/rating"): Case(
        RESIDENT, resource="work-orders-closed", body=lambda w, p: {"stars": 5}, away=404
    ),
    ("GET", "/equipment"): Case(STAFF, resource="devices"),
    ("GET", "/equipment/{id}"): Case(STAFF, resource="devices"),
    ("PATCH", "/equipment/{id}"): Case(
        WRITERS, resource="equipment",
        body=lambda w, p: {"cycle_days": 15, "install_date": "2025-01-01"},
    ),
    ("GET", "/technicians"): Case(WRITERS, resource="technicians"),
    ("PATCH", "/technicians/{id}"): Case(
        WRITERS, resource="technicians", body=lambda w, p: {"skills": SKILLS}
    ),
    ("GET", "/reports/work-orders"): Case(WRITERS),
    ("GET", "/vehicles"): Case(HOUSEHOLD),
    ("POST", "/vehicles"): Case(WRITERS, body=vehicle_body, away=422),
    ("DELETE", "/vehicles/{id}"): Case(WRITERS, resource="vehicles"),
    ("PATCH", "/vehicles/{id}"): Case(
        WRITERS, resource="vehicles", body=lambda w, p: {"note": "二号车"}),
    ("GET", "/vehicle-passes"): Case(HOUSEHOLD),
    ("POST", "/vehicle-passes"): Case(ISSUERS, body=vehicle_pass_body, away=422),
    ("POST", "/vehicle-passes/{id}/revoke"): Case(
        ISSUERS, resource="vehicle-passes", ok=200, away=404),
    ("GET", "/blocked-plates"): Case(STAFF),
    ("POST", "/blocked-plates"): Case(
        OPERATORS, body=lambda w, p: {"site_id": SITE[p], "plate": plate()}),
    ("DELETE", "/blocked-plates/{id}"): Case(OPERATORS, resource="blocked-plates"),
    ("GET", "/vehicles/inside"): Case(STAFF),
    ("GET", "/vehicles/decisions"): Case(STAFF),
    ("POST", "/vehicles/decisions/{id}/correct"): Case(
        OPERATORS, resource="lane-decisions", body=lambda w, p: {"plate": plate(),
                                                                  "reason": "看错了"},
        away=404),
    ("GET", "/parking-spaces"): Case(HOUSEHOLD),
    ("GET", "/reports/vehicle-traffic"): Case(WRITERS),
    ("GET", "/reports/vehicle-overstays"): Case(WRITERS),
    ("POST", "/parking-spaces"): Case(
        WRITERS, body=lambda w, p: {"household_id": w.ids["households"][p],
                                    "code": unique("P"), "kind": "owned"}, away=422),
    ("DELETE", "/parking-spaces/{id}"): Case(WRITERS, resource="parking-spaces"),
    ("GET", "/vehicle-settings"): Case(STAFF, query=lambda w: "?site_id=sunrise"),
    ("POST", "/vehicle-settings"): Case(
        WRITERS, body=lambda w, p: {"site_id": SITE[p], "passback": "refuse"}, ok=200),
    # issue 17: guard patrol
    ("GET", "/patrol/checkpoints"): Case(STAFF, resource="patrol-checkpoints"),
    ("POST", "/patrol/checkpoints"): Case(
        WRITERS, body=lambda w, p: {"site_id": SITE[p], "code": unique("CP"), "name": "岗亭"}
    ),
    ("GET", "/patrol/routes"): Case(STAFF, resource="patrol-routes"),
    ("POST", "/patrol/routes"): Case(
        WRITERS, body=lambda w, p: {
            "site_id": SITE[p], "code": unique("r"), "name": "夜班",
            "stops": [{"checkpoint": w.ids["patrol-checkpoint-codes"][p], "allowance_s": 600}]}
    ),
    ("POST", "/patrol/cards"): Case(
        WRITERS, body=lambda w, p: {"site_id": SITE[p], "username": w.ids["patrol-guards"][p],
                                    "card_number": unique("9")}
    ),
    ("GET", "/patrol/report"): Case(WRITERS),
    ("GET", "/patrol/exceptions"): Case(WRITERS),
    ("POST", "/patrol/keys"): Case(GUARD, body=lambda w, p: {"public_key": phone_key()},
                                   own=True),
    ("GET", "/patrol/rounds"): Case(OPERATORS, resource="patrol-rounds"),
    ("GET", "/patrol/rounds/{id}"): Case(OPERATORS, resource="patrol-rounds"),
    ("POST", "/patrol/rounds"): Case(
        GUARD, body=lambda w, p: {"site_id": SITE[p], "route": w.ids["patrol-route-codes"][p]}
    ),
    # the role and scope gate only (a checkpoint not on the route: 422, nothing stored);
    # signed readings are tested in test_patrol.py
    ("POST", "/patrol/rounds/{id}/readings"): Case(
        GUARD, resource="patrol-rounds", away=404, ok=422, body=lambda w, p: {"readings": [
            {"id": unique("reading-"), "checkpoint": "CP-nowhere",
             "ts": datetime.now(UTC).isoformat()}]}
    ),
}


def visible(role: str) -> set[str]:
    """The places a role's scope covers (the company admin's: acme's, i.e. sunrise's)."""
    if role == "admin":
        return set(PLACES)
    if role == "resident":
        return {"home"}
    return {p for p in PLACES if SITE[p] == "sunrise"}


def expected(method: str, case: Case, role: str | None, place: str | None) -> int:
    ok = case.ok or {"POST": 201, "DELETE": 204}.get(method, 200)
    if case.edge:
        return 401
    if case.public:
        return ok
    if role is None:
        return 401
    if role not in case.roles:
        return 403
    if place is None or place in visible(role):
        return ok
    if method == "POST":
        return case.away
    return 404


@pytest.fixture
async def world(client: Client, sessions: async_sessionmaker[AsyncSession]) -> World:
    return await build_world(client, sessions)


def _key(method: str, path: str) -> tuple[str, str]:
    return method, openapi_path(path)


async def test_every_endpoint_has_a_line_in_the_matrix(client: Client) -> None:
    declared = {_key(ep.method, ep.path) for ep in client.app[ENDPOINTS]}
    assert declared - CASES.keys() == set(), "endpoints nobody said who may call"
    assert CASES.keys() - declared == set(), "matrix lines for endpoints that are gone"
    # the OpenAPI document tells the same roles as the matrix expects
    doc = await (await client.get("/api/v1/openapi.json")).json()
    for (method, path), case in CASES.items():
        op = doc["paths"]["/api/v1" + path][method.lower()]
        assert op.get("x-roles", []) == sorted(case.roles), (method, path)


async def _prepare(
    world: World, method: str, path: str, case: Case, place: str | None
) -> tuple[str, dict[str, Any]]:
    """The path and request options (body, headers) of one call."""
    kwargs: dict[str, Any] = {}
    if case.query is not None:
        path += case.query(world)
    if case.csv is not None:
        assert place is not None
        path += f"?site_id={SITE[place]}"
        kwargs["data"] = case.csv(place).encode()
        kwargs["headers"] = {"Content-Type": "text/csv"}
    elif method == "POST" and path == "/households":
        assert place is not None
        kwargs["json"] = {"unit_id": await world.fresh("units", place)}
    elif case.body is not None:
        kwargs["json"] = case.body(world, place or "home")
    return path, kwargs


async def test_role_matrix(world: World, sessions: async_sessionmaker[AsyncSession]) -> None:
    failures: list[str] = []
    checked = 0
    for ep in world.client.app[ENDPOINTS]:
        method, path = _key(ep.method, ep.path)
        case = CASES[(method, path)]
        is_item = "{id}" in path
        placed = case.csv is not None or (method == "POST" and path == "/households")
        placed = placed or (case.body is not None and not case.public and not case.own)
        places: tuple[str | None, ...] = PLACES if is_item or placed else (None,)
        for role in (None, *ROLES):
            for place in places:
                concrete = path
                if is_item:
                    assert case.resource is not None and place is not None
                    if method == "GET":
                        target = world.ids[case.resource][place]
                    else:  # a change or a removal gets an object of its own
                        target = await world.fresh(case.resource, place)
                    concrete = path.replace("{id}", str(target))
                if method == "POST" and path == "/auth/logout" and role is not None:
                    world.tokens[role] = await world.login(role)  # this call spends it
                concrete, kwargs = await _prepare(world, method, concrete, case, place)
                before = await count(sessions) if method != "GET" else None
                status, body = await world.call(method, concrete, role=role, **kwargs)
                world.client.session.cookie_jar.clear()
                want = expected(method, case, role, place)
                checked += 1
                if status != want:
                    failures.append(
                        f"{role} {method} {concrete} ({place}): {status} != {want} {body}"
                    )
                    continue
                if before is not None and status >= 400:
                    after = await count(sessions)
                    if after != before:
                        failures.append(f"{role} {method} {concrete}: refused but changed {after}")
                elif before is not None and role is not None and not case.public:
                    # issue 19: every write a user makes leaves one entry in the audit log
                    logged = (await count(sessions))["audit_log"] - before["audit_log"]
                    if logged != 1:
                        failures.append(f"{role} {method} {concrete}: {logged} audit entries")
                if method == "GET" and status == 200 and not is_item and case.resource:
                    shown = {item["id"] for item in body["items"]}
                    ids = world.ids[case.resource]
                    mine = {ids[p] for p in visible(role)}
                    others = {ids[p] for p in PLACES} - mine
                    if not mine <= shown or shown & others:
                        failures.append(
                            f"{role} {method} {path}: shows {sorted(shown, key=str)}, "
                            f"scope {sorted(mine, key=str)}, never {sorted(others, key=str)}"
                        )
        if method == "POST" and path == "/auth/logout":
            for role in ROLES:
                world.tokens[role] = await world.login(role)
    assert not failures, f"{len(failures)} of {checked} answers wrong:\n" + "\n".join(failures)
    assert checked > 500


async def test_a_guard_cannot_change_permissions(world: World) -> None:
    """The guard reads the registry and the access log, and every permission change is 403."""
    await world.call("GET", f"/access-groups/{world.ids['access-groups']['home']}", "guard", 200)
    await world.call("GET", "/access-events", "guard", 200)
    group, card = world.ids["access-groups"]["home"], world.ids["cards"]["home"]
    resident = world.ids["residents"]["home"]
    for method, path, body in (
        ("PATCH", f"/access-groups/{group}", {"doors": ["B1-main"]}),
        ("PATCH", f"/cards/{card}", {"status": "active"}),
        ("PATCH", f"/residents/{resident}", {"groups": [group]}),
        (
            "POST",
            "/users",
            {"username": "g2", "password": PASSWORD, "role": "manager", "site_id": "sunrise"},
        ),
    ):
        status, answer = await world.call(method, path, "guard", json=body)
        assert status == 403 and answer["error"] == "forbidden", (path, answer)


async def test_id_numbers_are_masked_for_everyone_but_the_admin(world: World) -> None:
    rid = world.ids["residents"]["home"]
    for role in ROLES:
        _, one = await world.call("GET", f"/residents/{rid}", role, 200)
        _, listed = await world.call("GET", "/residents", role, 200)
        shown = {one["id_number"]} | {r["id_number"] for r in listed["items"] if r["id"] == rid}
        if role in ("admin", "company_admin"):  # the company's own residents
            assert shown == {"11010519491231002X"}
        else:
            assert shown == {"110105********002X"}, role
    # the answer to a change is masked too
    _, patched = await world.call(
        "PATCH", f"/residents/{rid}", "manager", 200, json={"phone": "13900000001"}
    )
    assert patched["id_number"] == "110105********002X"


async def test_a_resident_sees_only_their_household(world: World) -> None:
    _, me = await world.call("GET", "/auth/me", "resident", 200)
    assert me["role"] == "resident" and me["household_id"] == world.ids["households"]["home"]
    _, listed = await world.call("GET", "/residents", "resident", 200)
    assert [r["id"] for r in listed["items"]] == [world.ids["residents"]["home"]]
    _, cards = await world.call("GET", "/cards", "resident", 200)
    assert [c["id"] for c in cards["items"]] == [world.ids["cards"]["home"]]
    # asking for the neighbours by filter shows nothing, and naming them directly is 404
    _, filtered = await world.call(
        "GET", f"/residents?household_id={world.ids['households']['neighbour']}", "resident", 200
    )
    assert filtered["items"] == []
    neighbour = world.ids["residents"]["neighbour"]
    missing = 999_999
    _, hidden = await world.call("GET", f"/residents/{neighbour}", "resident", 404)
    _, absent = await world.call("GET", f"/residents/{missing}", "resident", 404)
    assert hidden["error"] == absent["error"] == "not_found"
    # and another site named in a filter is refused
    await world.call("GET", "/residents?site_id=moonbay", "resident", 403)


async def test_a_guard_opens_doors_of_their_own_site_only(world: World) -> None:
    """Remote unlock: a sunrise guard opens a sunrise door (logged with who and why); a
    moonbay door is as unknown to them as one that does not exist, and its command is not
    listed; a technician may not open doors at all."""
    home, away = world.ids["doors"]["home"], world.ids["doors"]["away"]
    _, sent = await world.call(
        "POST", f"/doors/{home}/unlock", "guard", 202, json={"reason": "快递员"}
    )
    assert (sent["issued_by"], sent["site_id"], sent["reason"]) == ("guard", "sunrise", "快递员")
    _, refused = await world.call(
        "POST", f"/doors/{away}/unlock", "guard", 404, json={"reason": "快递员"}
    )
    assert refused["error"] == "not_found"
    await world.call("POST", f"/doors/{home}/unlock", "technician", 403, json={"reason": "x"})
    _, listed = await world.call("GET", "/commands", "guard", 200)
    assert sent["id"] in {c["id"] for c in listed["items"]}
    assert {c["site_id"] for c in listed["items"]} == {"sunrise"}
    await world.call("GET", f"/commands/{world.ids['commands']['away']}", "guard", 404)
    await world.call("GET", "/commands?site_id=moonbay", "guard", 403)
