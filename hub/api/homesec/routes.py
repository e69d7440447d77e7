"""Home security (居家安防): a resident arms and disarms their own unit and sees its alarms (a
silent panic never shows there); the control room sees every unit's arm state and alarms,
never its zones or motion. Panels are commissioned at /security-panels (installation)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.api.core.auth import OPERATOR_ROLES
from hub.api.core.endpoints import EndpointTable
from hub.api.core.errors import UnavailableError
from hub.api.core.keys import COMMANDS, CURRENT_USER, SESSIONS
from hub.api.core.scope import scope_of
from hub.api.core.store import reading
from hub.api.installation.common import installing
from hub.homesec.models import SecurityPanel
from hub.homesec.panels import PanelChange, update_panel
from hub.homesec.service import (
    HOME_ALARMS,
    RESIDENT_ALARMS,
    PanelView,
    arm,
    household_panel,
    open_alarms,
    site_panels,
)
from hub.rules.models import Alarm
from hub.texts import language_of, render, render_or
from wire.homesec import ArmSchedule

routes = EndpointTable(tag="home-security")
RESIDENT = frozenset({"resident"})


class HomeAlarmOut(BaseModel):
    id: int
    type: str
    severity: str
    state: str
    count: int = Field(description="how often it went off while open (a flapping zone)")
    message: str
    first_seen: datetime
    last_seen: datetime


class PanelStateOut(BaseModel):
    id: int = Field(description="the panel's id")
    site_id: str
    building: str
    unit_id: int
    unit: str
    floor: int | None
    mode: str = Field(description="away / stay / disarmed, as the edge last reported")
    phase: str = Field(description="disarmed, exit_delay, armed, entry_delay or alarm")
    mode_at: datetime | None
    mode_by: str | None
    panel_status: str = Field(description="the panel device: online / offline / unknown")
    alarms: list[HomeAlarmOut]


class PanelStateList(BaseModel):
    items: list[PanelStateOut]


class MyPanelOut(PanelStateOut):
    """The resident's own view: also when the unit arms by itself (never shown to guards: it
    says when a home stands empty)."""

    schedule: list[ArmSchedule] = Field(description="arm or disarm at these times (the site's)")


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule: list[ArmSchedule] = Field(max_length=16, description="replaces the unit's schedule; "
                                        "[] arms only by hand")


class ArmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["away", "stay", "disarmed"]
    bypass: list[int] = Field(default_factory=list, max_length=64,
                              description="zones to leave out of this arming (by number)")


class ZoneOut(BaseModel):
    zone: int
    name: str = Field(description="the zone's name in the reader's language")


class ArmOut(BaseModel):
    result: str = Field(description="ok, or rejected (reason says why: an open zone, named), "
                        "failed, sent (no answer yet) or unsent (the broker refused it)")
    reason: str = Field(description="what happened, in the reader's language (the zones named)")
    answer: str = Field(description="the building's own answer, as the edge wrote it (English)")
    command_id: str
    open_zones: list[ZoneOut] = Field(description="refused: the zones open, to close or bypass")


def _state(view: PanelView, alarms: list[Alarm], lang: str) -> PanelStateOut:
    p, u = view.panel, view.unit
    return PanelStateOut(
        id=p.id, site_id=p.site_id, building=view.building.code, unit_id=u.id,
        unit=u.number, floor=u.floor, mode=p.mode, phase=p.phase, mode_at=p.mode_at,
        mode_by=p.mode_by, panel_status=view.status,
        alarms=[HomeAlarmOut(id=a.id, type=a.type, severity=a.severity, state=a.state,
                             count=a.count, first_seen=a.first_seen, last_seen=a.last_seen,
                             message=render_or(a.message_code, a.message_params, lang, a.message))
                for a in alarms])


@routes.get("/me/home-security", response=MyPanelOut, roles=RESIDENT)
async def my_home_security(request: web.Request) -> MyPanelOut:
    """My unit's arm state, its arm schedule and its open alarms (404 when the unit has no
    alarm panel)."""
    user = request[CURRENT_USER]
    async with reading(request) as session:
        view = await household_panel(session, user.household_id)
        alarms = await open_alarms(session, [view.panel], RESIDENT_ALARMS)
    state = _state(view, alarms[view.panel.id], language_of(request))
    return MyPanelOut(**state.model_dump(), schedule=[
        ArmSchedule.model_validate(s) for s in view.panel.schedule or []])


@routes.post("/me/home-security/schedule", body=ScheduleIn, response=MyPanelOut,
            roles=RESIDENT)
async def set_my_schedule(request: web.Request, body: ScheduleIn) -> MyPanelOut:
    """Set when my unit arms or disarms by itself (e.g. away on weekdays at 08:30, disarmed
    at 18:00). The building's edge keeps it and arms on time with the hub away."""
    user = request[CURRENT_USER]
    async with reading(request) as session:
        panel_id = (await household_panel(session, user.household_id)).panel.id
    async with installing(request) as inst:  # audited, and the edge's configuration follows
        await update_panel(inst, panel_id, PanelChange(schedule=body.schedule))
    return await my_home_security(request)


@routes.post("/me/home-security/arm", body=ArmIn, response=ArmOut, roles=RESIDENT)
async def arm_my_home(request: web.Request, body: ArmIn) -> ArmOut:
    """Arm my unit away or stay, or disarm it. The building's edge decides and answers: an
    open door or window refuses the arm, naming the zone (unless bypassed)."""
    user = request[CURRENT_USER]
    sender = request.app.get(COMMANDS)
    if sender is None:
        raise UnavailableError("this API instance cannot reach the broker to command edges",
                               ("error.no_broker", {}))
    async with reading(request) as session:
        view = await household_panel(session, user.household_id)
    answer = await arm(request.app[SESSIONS], sender, view.panel, body.mode, body.bypass,
                       f"resident:{user.username}")
    lang = language_of(request)
    zh = lang == "zh"
    reason = render(f"arm_answer.{answer.code}", answer.text_params(), lang)
    return ArmOut(result=answer.result, reason=reason, answer=answer.reason,
                  command_id=answer.command_id,
                  open_zones=[ZoneOut(zone=z, name=name_zh if zh else name_en)
                              for z, name_en, name_zh in answer.open_zones])


@routes.get("/security-panels", response=PanelStateList, roles=OPERATOR_ROLES)
async def list_panels(request: web.Request) -> PanelStateList:
    """Every unit panel of your site: its arm state and open alarms (no zones, no motion)."""
    scope = scope_of(request)
    async with reading(request) as session:
        views = await site_panels(session, scope.where(SecurityPanel.site_id))
        alarms = await open_alarms(session, [v.panel for v in views], HOME_ALARMS)
    lang = language_of(request)
    return PanelStateList(items=[_state(v, alarms[v.panel.id], lang) for v in views])
