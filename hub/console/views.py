"""Sign-in, sign-out, the language switch, and the pages with their server-side summaries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from hub.api.access.panel import guard_panel
from hub.api.core import login as api_login
from hub.api.core.errors import ApiError
from hub.api.core.keys import COMPANY_SITES, REPLICA
from hub.api.core.scope import Scope, scope_for
from hub.api.core.store import reading
from hub.console.audit import audit_page
from hub.console.boards import led_boards
from hub.console.i18n import MESSAGES, choose_language
from hub.console.meters import monthly_readings, my_consumption
from hub.console.pages import (
    CONSOLE,
    HOME,
    MANAGERS,
    OPERATORS,
    RESIDENTS,
    TECHNICIANS,
    Page,
    current_user,
    render,
)
from hub.console.patrol_report import patrol_summary
from hub.console.redirects import safe_next
from hub.console.reports import alarms_by_type, resolution_times, traffic_by_door_hour
from hub.models import (
    AccessEvent,
    Building,
    CardCredential,
    Device,
    DeviceFault,
    Door,
    Edge,
    Resident,
    ResidentAccount,
    Site,
    Unit,
    User,
    VisitorPass,
)
from hub.rules.models import Alarm
from hub.texts import LANG_COOKIE, LANGUAGES, set_reader_language
from hub.texts import render as render_text
from hub.workorders.models import WorkOrder

routes = web.RouteTableDef()
STATIC = Path(__file__).parent / "static"
REPORT_DAYS = 30  # the period of the alarm and work-order reports


def _redirect(location: str) -> web.Response:
    """A 303 to `location` that can carry cookies (raised HTTPFound is for plain ones)."""
    return web.Response(status=303, headers={"Location": location})


@routes.get("/")
async def root(request: web.Request) -> web.StreamResponse:
    user = await current_user(request)
    raise web.HTTPFound(HOME.get(user.role, "/login") if user else "/login")


@routes.get("/login")
async def login_page(request: web.Request) -> web.StreamResponse:
    user = await current_user(request)
    if user is not None:
        raise web.HTTPFound(safe_next(request.query.get("next"), HOME.get(user.role, "/")))
    return render(request, "login.html", next_url=safe_next(request.query.get("next"), "/"),
                  logged_out="bye" in request.query)


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    """Revoke the session's token (as the API's logout does) and go back to the sign-in page."""
    redirect = _redirect("/login?bye=1")
    if await current_user(request) is not None:
        answer = await api_login.logout(request)
        redirect.cookies.update(answer.cookies)  # the cookie, cleared
    return redirect


@routes.get("/lang/{lang}")
async def switch_language(request: web.Request) -> web.StreamResponse:
    lang = request.match_info["lang"]
    if lang not in LANGUAGES:
        raise web.HTTPNotFound(text=render_text("error.http_404", None, choose_language(request)))
    redirect = _redirect(safe_next(request.query.get("next"), "/"))
    redirect.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path="/", samesite="Lax")
    return redirect


@routes.get(r"/visit/{code:[A-Za-z0-9_-]{16,64}}")
async def visitor_page(request: web.Request) -> web.StreamResponse:
    """The page a visitor opens from the shared link: the pass's QR code and when and where
    it works, without a login (the link's code is the secret, as for the API's shared image)."""
    code = request.match_info["code"]
    async with reading(request) as session:
        found = (await session.execute(
            select(VisitorPass, Unit.number, Building.name, Site.timezone)
            .options(selectinload(VisitorPass.doors))
            .join(Unit, Unit.id == VisitorPass.unit_id).join(Building, Building.id == Unit.building_id)
            .join(Site, Site.id == VisitorPass.site_id)
            .where(VisitorPass.share_code == code))).first()
    if found is None or found[0].status != "active":
        return render(request, "visit.html", status=404, visitor_pass=None)
    vp, unit, building, timezone = found
    doors = sorted(d.label or d.name for d in vp.doors)
    zone, lang = ZoneInfo(timezone), choose_language(request)
    return render(request, "visit.html", visitor_pass=vp, unit=unit, building=building,
                  doors=doors, when=lambda at: day_and_time(at.astimezone(zone), lang),
                  qr_url=f"/api/v1/visitor-passes/shared.png?code={code}")


def day_and_time(at: datetime, lang: str) -> str:
    """"Dec 5, 14:00" / "12月5日 14:00": the day as people write it, not "12-05"."""
    if lang == "zh":
        return f"{at.month}月{at.day}日 {at:%H:%M}"
    return f"{at:%b} {at.day}, {at:%H:%M}"


def _scope(request: web.Request, user: User) -> Scope:
    """The user's scope (a company admin's needs the sites read with their session)."""
    return scope_for(user, request.get(COMPANY_SITES))


# --- staff pages -------------------------------------------------------------------------------

@CONSOLE.page("/manage", "overview.html", MANAGERS, nav="nav.manage", scripts=("overview.js",),
              channels=("access", "alarms", "work_orders", "devices", "edges"))
async def overview(request: web.Request, user: User) -> dict[str, Any]:
    reads = request.app.get(REPLICA)  # issue 19: the read replica's lag, when there is one
    return {"counts": await tile_counts(request, user),
            "replica": reads.status if reads is not None else None}


@routes.get("/manage/tiles")
async def overview_tiles(request: web.Request) -> web.StreamResponse:
    """The overview's counts as JSON, for the page to refresh its tiles in place."""
    user = await current_user(request)
    if user is None:
        raise web.HTTPUnauthorized(
            text=render_text("error.unauthorized", None, choose_language(request)))
    if user.role not in MANAGERS:
        raise web.HTTPForbidden(text=render_text("error.forbidden", None, choose_language(request)))
    return web.json_response(await tile_counts(request, user),
                             headers={"Cache-Control": "no-store"})


async def tile_counts(request: web.Request, user: User) -> dict[str, int]:
    """Counts for the tiles of the overview, within the manager's site."""
    scope = _scope(request, user)
    since = datetime.now(UTC) - timedelta(hours=24)
    queries = {
        "residents": select(func.count()).select_from(Resident)
        .where(scope.where(Resident.site_id)),
        "units": select(func.count()).select_from(Unit).join(Building)
        .where(scope.where(Building.site_id)),
        "cards": select(func.count()).select_from(CardCredential)
        .where(scope.where(CardCredential.site_id), CardCredential.status == "active"),
        "edges": select(func.count()).select_from(Edge).where(scope.where(Edge.site_id)),
        "edges_online": select(func.count()).select_from(Edge)
        .where(scope.where(Edge.site_id), Edge.status == "online"),
        "devices": select(func.count()).select_from(Device).where(scope.where(Device.site_id)),
        "open_faults": select(func.count()).select_from(DeviceFault).join(Device)
        .where(scope.where(Device.site_id), DeviceFault.cleared_at.is_(None)),
        "active_passes": select(func.count()).select_from(VisitorPass)
        .where(scope.where(VisitorPass.site_id), VisitorPass.status == "active",
               VisitorPass.valid_until > datetime.now(UTC)),
        "alarms_open": select(func.count()).select_from(Alarm)
        .where(scope.where(Alarm.site_id), Alarm.state != "cleared"),
        "orders_open": select(func.count()).select_from(WorkOrder)
        .where(scope.where(WorkOrder.site_id), WorkOrder.state.not_in(("resolved", "closed"))),
        "events_today": select(func.count()).select_from(AccessEvent)
        .where(scope.where(AccessEvent.site_id), AccessEvent.ts >= since),
        "denied_today": select(func.count()).select_from(AccessEvent)
        .where(scope.where(AccessEvent.site_id), AccessEvent.ts >= since,
               AccessEvent.result == "denied"),
    }
    async with reading(request) as session:
        return {name: int(await session.scalar(q) or 0) for name, q in queries.items()}


CONSOLE.add(Page("/manage/residents", "residents.html", MANAGERS, nav="nav.residents",
                 scripts=("lists.js", "people.js")))
CONSOLE.add(Page("/manage/cards", "cards.html", MANAGERS, nav="nav.cards",
                 scripts=("lists.js", "cards.js"), channels=("access",)))
CONSOLE.add(Page("/manage/users", "users.html", MANAGERS, nav="nav.users",
                 scripts=("lists.js", "people.js")))
CONSOLE.add(Page("/manage/passes", "passes.html", MANAGERS, nav="nav.passes",
                 scripts=("passes.js",)))
CONSOLE.add(Page("/manage/devices", "devices.html", MANAGERS, nav="nav.devices",
                 scripts=("manage.js",), channels=("devices", "edges")))

CONSOLE.add(Page("/manage/installation", "installation.html", MANAGERS, nav="nav.installation",
                 scripts=("installation.js",)))
CONSOLE.add(Page("/manage/orders", "orders.html", MANAGERS, nav="nav.orders",
                 scripts=("lists.js", "workorders.js"), channels=("work_orders",)))
CONSOLE.add(Page("/manage/equipment", "equipment.html", MANAGERS, nav="nav.equipment",
                 scripts=("manage.js",)))
CONSOLE.add(Page("/manage/notices", "notices.html", MANAGERS, nav="nav.notices",
                 scripts=("notices.js",), channels=("notices",)))


@CONSOLE.page("/manage/reports", "reports.html", MANAGERS, nav="nav.reports")
async def reports(request: web.Request, user: User) -> dict[str, Any]:
    lang = choose_language(request)

    def word(prefix: str) -> Callable[[str], str]:
        return lambda key: MESSAGES[lang].get(prefix + key, key)

    now, scope = datetime.now(UTC), _scope(request, user)
    since = now - timedelta(days=REPORT_DAYS)
    async with reading(request) as session:
        return {
            "days": REPORT_DAYS,
            "traffic": await traffic_by_door_hour(session, scope, now),
            "alarms": await alarms_by_type(session, scope, since, word("alarm.")),
            "resolution": await resolution_times(session, scope, since, word("reports.bucket.")),
        }


CONSOLE.add(Page("/manage/meters", "meters.html", MANAGERS, nav="nav.meters",
                 context=monthly_readings))
CONSOLE.add(Page("/manage/boards", "boards.html", MANAGERS, nav="nav.boards",
                 context=led_boards))
CONSOLE.add(Page("/manage/audit", "audit.html", MANAGERS, nav="nav.audit", context=audit_page))


@CONSOLE.page("/guard", "guard.html", OPERATORS, nav="nav.guard", scripts=("guard.js",),
              channels=("access", "door", "devices", "edges", "alarms", "camera"), wide=True)
async def guard_console(request: web.Request, user: User) -> dict[str, Any]:
    """The panel's first data in the page itself (the API's /guard-panel, in the console's
    language): it shows with the document, with no request after it; the live feed and its
    reconnects ask /guard-panel again."""
    set_reader_language(choose_language(request))
    try:
        panel = await guard_panel(request)
    except ApiError:  # the page still opens; its script asks the API and shows why
        return {"panel": None}
    return {"panel": panel.model_dump(mode="json")}
CONSOLE.add(Page("/guard/passes", "desk.html", OPERATORS, nav="nav.desk",
                 scripts=("passes.js",)))
CONSOLE.add(Page("/guard/access", "access_log.html", OPERATORS, nav="nav.access_log",
                 scripts=("access_log.js",), wide=True))
CONSOLE.add(Page("/guard/alarms", "alarm_history.html", OPERATORS, nav="nav.alarm_history",
                 scripts=("alarm_history.js",), wide=True))
# issue 17: the guard's lane panel, and the manager's vehicle registry and parking spaces
CONSOLE.add(Page("/guard/lanes", "lanes.html", OPERATORS, nav="nav.lanes", scripts=("lanes.js",),
                 channels=("vehicles", "alarms"), wide=True))
CONSOLE.add(Page("/manage/vehicles", "vehicles.html", MANAGERS, nav="nav.vehicles",
                 scripts=("lists.js", "vehicles.js")))
@routes.get("/guard/patrol/sw.js")
async def patrol_service_worker(_request: web.Request) -> web.StreamResponse:
    """The patrol page's service worker (kept at /guard/ so it may serve /guard/patrol)."""
    return web.FileResponse(STATIC / "patrol_sw.js", headers={
        "Content-Type": "text/javascript", "Service-Worker-Allowed": "/guard/",
        "Cache-Control": "no-cache"})


# issue 17: the guard's patrol round, on the phone (patrol.js signs and queues the readings)
CONSOLE.add(Page("/guard/patrol", "patrol.html", frozenset({"guard"}), nav="nav.patrol",
                 scripts=("patrol.js",)))


@CONSOLE.page("/manage/patrol", "patrol_rounds.html", MANAGERS, nav="nav.patrol_rounds",
              scripts=("patrol_rounds.js",), channels=("patrol", "alarms", "access"), wide=True)
async def patrol_rounds(request: web.Request, user: User) -> dict[str, Any]:
    """The rounds live (patrol_rounds.js) and the report of the last REPORT_DAYS days."""
    since = (datetime.now(UTC) - timedelta(days=REPORT_DAYS)).replace(microsecond=0)
    async with reading(request) as session:
        summary = await patrol_summary(session, _scope(request, user), since, choose_language(request))
    return {"summary": summary, "days": REPORT_DAYS, "since": since.isoformat()}


CONSOLE.add(Page("/tech", "orders.html", TECHNICIANS, nav="nav.tech", scripts=("workorders.js",),
                 channels=("work_orders",)))
CONSOLE.add(Page("/tech/faults", "tech.html", TECHNICIANS, nav="nav.tech_devices",
                 scripts=("tech.js",), channels=("devices",)))


# --- resident pages ----------------------------------------------------------------------------

async def _my_resident(request: web.Request, user: User
                       ) -> tuple[Resident, Unit | None, Building | None] | None:
    async with reading(request) as session:
        link = await session.get(ResidentAccount, user.id)
        resident = None if link is None else await session.get(Resident, link.resident_id)
        if resident is None:
            return None
        unit = await session.get(Unit, resident.unit_id) if resident.unit_id else None
        building = await session.get(Building, unit.building_id) if unit else None
        return resident, unit, building


@CONSOLE.page("/me", "me.html", RESIDENTS, nav="nav.me", scripts=("me.js",))
async def my_code(request: web.Request, user: User) -> dict[str, Any]:
    found = await _my_resident(request, user)
    return {"resident": found[0] if found else None,
            "unit": found[1] if found else None, "building": found[2] if found else None}


@CONSOLE.page("/me/passes", "my_passes.html", RESIDENTS, nav="nav.my_passes",
              scripts=("passes.js",))
async def my_passes(request: web.Request, user: User) -> dict[str, Any]:
    """The resident's unit, and the doors of their building a visitor may be let through."""
    found = await _my_resident(request, user)
    if found is None or found[1] is None:
        return {"resident": None, "unit": None, "doors": []}
    resident, unit, building = found
    async with reading(request) as session:
        rows = (await session.execute(
            select(Door, Edge.building_id).join(Edge, Edge.id == Door.edge_id)
            .where(Door.site_id == resident.site_id).order_by(Door.name))).all()
    mine = [door for door, b in rows if building is not None and b in (building.id, None)]
    doors = [{"name": d.name, "label": d.label or d.name} for d in (mine or [d for d, _ in rows])]
    return {"resident": resident, "unit": unit, "doors": doors}


@CONSOLE.page("/me/vehicles", "my_vehicles.html", RESIDENTS, nav="nav.my_vehicles",
              scripts=("my_vehicles.js",))
async def my_vehicles(request: web.Request, user: User) -> dict[str, Any]:
    """The resident's household: its cars and the visitor-car passes it issues."""
    found = await _my_resident(request, user)
    return {"household_id": found[0].household_id if found else None}


CONSOLE.add(Page("/me/notices", "my_notices.html", RESIDENTS, nav="nav.my_notices",
                 scripts=("notices.js",), channels=("notices",)))
CONSOLE.add(Page("/me/security", "my_security.html", RESIDENTS, nav="nav.my_security",
                 scripts=("homesec.js",), channels=("homesec",)))
CONSOLE.add(Page("/me/repairs", "repairs.html", RESIDENTS, nav="nav.my_repairs",
                 scripts=("workorders.js",), channels=("work_orders",)))
CONSOLE.add(Page("/me/meters", "my_meters.html", RESIDENTS, nav="nav.my_meters",
                 context=my_consumption))
