"""The maintenance team's registry: the equipment ledger (per device), technicians' skills
and open workload, and the work-order report (JSON or CSV)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import and_, delete, select

from hub.api.core.auth import STAFF_ROLES
from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.errors import NotFoundError
from hub.api.core.scope import scope_of
from hub.api.core.store import reading, writing
from hub.api.workorders.routes import WRITERS, now_of
from hub.api.workorders.schemas import (
    CycleOut,
    EquipmentList,
    EquipmentOut,
    EquipmentPatch,
    EquipmentQuery,
    ReportOut,
    ReportQuery,
    ReportRow,
    TechnicianList,
    TechnicianOut,
    TechnicianPatch,
    TechnicianQuery,
)
from hub.models import Device, Site, User
from hub.workorders.cycles import check_single_cycle, cycles_of, rules, set_cycles
from hub.workorders.ledger import local_date, site_zone
from hub.workorders.models import EquipmentRecord, MaintenanceCycle, TechnicianSkill, WorkOrder
from hub.workorders.reports import as_csv, resolution_report
from hub.workorders.service import ACTIVE_STATES, workload

routes = EndpointTable(tag="maintenance")

_OPEN_PM = (select(WorkOrder.device_id, WorkOrder.id.label("order_id"))
            .where(WorkOrder.kind == "preventive", WorkOrder.state.in_(ACTIVE_STATES))
            .subquery())


def _equipment() -> Any:
    return (select(Device, EquipmentRecord, _OPEN_PM.c.order_id)
            .outerjoin(EquipmentRecord, EquipmentRecord.device_id == Device.id)
            .outerjoin(_OPEN_PM, _OPEN_PM.c.device_id == Device.id))


def _cycle_out(device: Device, cycle: MaintenanceCycle) -> CycleOut:
    kind = rules()[device.device_type]
    rule = kind.cycle(cycle.name)
    assert rule is not None  # set_cycles keeps only the type's own cycles
    return CycleOut(name=cycle.name, days=cycle.days, max_days=rule.max_days, rule=kind.rule,
                    text_en=rule.text_en, text_zh=rule.text_zh,
                    last_done_on=cycle.last_done_on, next_due_on=cycle.next_due_on)


def _equipment_out(device: Device, ledger: EquipmentRecord | None,
                   order_id: int | None, cycles: list[MaintenanceCycle] | None = None
                   ) -> EquipmentOut:
    def field(name: str) -> Any:
        return getattr(ledger, name) if ledger is not None else None

    return EquipmentOut(
        id=device.id, device_id=device.id, site_id=device.site_id, edge=device.edge, name=device.name,
        device_type=device.device_type, model=device.model,
        install_date=field("install_date"), cycle_days=field("cycle_days"),
        last_maintained_on=field("last_maintained_on"), next_due_on=field("next_due_on"),
        lead_days=field("lead_days"), skill=field("skill"), open_preventive_order=order_id,
        cycles=[_cycle_out(device, c) for c in cycles or []])


@routes.get("/equipment", query=EquipmentQuery, response=EquipmentList, roles=STAFF_ROLES)
async def list_equipment(request: web.Request, query: EquipmentQuery) -> EquipmentList:
    """The equipment ledger: each device's maintenance cycle and next due date."""
    scope = scope_of(request)
    scope.claim_site(query.site)
    stmt = _equipment().where(scope.where(Device.site_id))
    if query.site is not None:
        stmt = stmt.where(Device.site_id == query.site)
    if query.due_before is not None:
        stmt = stmt.where(EquipmentRecord.next_due_on <= query.due_before)
    stmt = stmt.order_by(EquipmentRecord.next_due_on.is_(None), EquipmentRecord.next_due_on,
                         Device.site_id, Device.edge, Device.name)
    async with reading(request) as session:
        rows = (await session.execute(stmt)).all()
        cycles = await cycles_of(session, [row[0].id for row in rows])
    return EquipmentList(items=[_equipment_out(device, ledger, order_id, cycles.get(device.id))
                                for device, ledger, order_id in rows])


async def _equipment_row(request: web.Request, session: Any) -> tuple[Any, ...]:
    device_id = path_id(request, "device")
    row = (await session.execute(_equipment().where(Device.id == device_id))).first()
    if row is None or not scope_of(request).sees(row[0].site_id):
        raise NotFoundError("device", device_id)
    return tuple(row)


@routes.get(r"/equipment/{id:\d+}", response=EquipmentOut, roles=STAFF_ROLES)
async def get_equipment(request: web.Request) -> EquipmentOut:
    """A device's ledger line (its id is the device's)."""
    async with reading(request) as session:
        device, ledger, order_id = await _equipment_row(request, session)
        cycles = await cycles_of(session, [device.id])
        return _equipment_out(device, ledger, order_id, cycles.get(device.id))


@routes.patch(r"/equipment/{id:\d+}", body=EquipmentPatch, response=EquipmentOut,
              roles=WRITERS)
async def patch_equipment(request: web.Request, body: EquipmentPatch) -> EquipmentOut:
    """Set a device's install date, cycle, last maintenance, next due date or lead time, or
    its maintenance cycles (each no longer than its rule allows)."""
    now = now_of(request)
    given = body.model_dump(exclude_unset=True)
    wanted = given.pop("cycles", None)
    async with writing(request) as change:
        device, ledger, order_id = await _equipment_row(request, change.session)
        if given.get("cycle_days"):
            check_single_cycle(device.device_type, given["cycle_days"])
        if wanted is not None:
            site = await change.session.get(Site, device.site_id)
            today = local_date(now, site_zone(site.timezone if site else None))
            await set_cycles(change.session, device, wanted, today, now)
        if ledger is None:
            ledger = EquipmentRecord(device_id=device.id, updated_at=now)
            change.session.add(ledger)
        for name, value in given.items():
            setattr(ledger, name, value)
        if "next_due_on" not in given and given.keys() & {"cycle_days", "last_maintained_on",
                                                           "install_date"}:
            base = ledger.last_maintained_on or ledger.install_date
            if ledger.cycle_days and base is not None:
                ledger.next_due_on = base + timedelta(days=ledger.cycle_days)
        ledger.updated_at = now
        await change.session.flush()
        cycles = await cycles_of(change.session, [device.id])
        return _equipment_out(device, ledger, order_id, cycles.get(device.id))


# --- technicians ----------------------------------------------------------------------------


async def _technicians(session: Any, users: list[User]) -> list[TechnicianOut]:
    ids = [u.id for u in users]
    skills: dict[int, list[str]] = {i: [] for i in ids}
    for uid, skill in await session.execute(
            select(TechnicianSkill.user_id, TechnicianSkill.skill)
            .where(TechnicianSkill.user_id.in_(ids)).order_by(TechnicianSkill.skill)):
        skills[uid].append(skill)
    loads = await workload(session, ids) if ids else {}
    return [TechnicianOut(id=u.id, username=u.username, site_id=u.site_id, skills=skills[u.id],
                          open_orders=loads[u.id], active=u.disabled_at is None) for u in users]


@routes.get("/technicians", query=TechnicianQuery, response=TechnicianList, roles=WRITERS)
async def list_technicians(request: web.Request, query: TechnicianQuery) -> TechnicianList:
    """Technicians of your scope with their skills and open workload."""
    scope = scope_of(request)
    scope.claim_site(query.site)
    stmt = select(User).where(User.role == "technician", scope.where(User.site_id))
    if query.site is not None:
        stmt = stmt.where(User.site_id == query.site)
    if query.skill is not None:
        stmt = stmt.join(TechnicianSkill, and_(TechnicianSkill.user_id == User.id,
                                               TechnicianSkill.skill == query.skill))
    async with reading(request) as session:
        users = list(await session.scalars(stmt.order_by(User.id)))
        return TechnicianList(items=await _technicians(session, users))


@routes.patch(r"/technicians/{id:\d+}", body=TechnicianPatch, response=TechnicianOut,
              roles=WRITERS)
async def patch_technician(request: web.Request, body: TechnicianPatch) -> TechnicianOut:
    """Replace a technician's skills."""
    user_id = path_id(request, "technician")
    async with writing(request) as change:
        session = change.session
        user = await session.get(User, user_id)
        if (user is None or user.role != "technician" or user.site_id is None
                or not scope_of(request).sees(user.site_id)):
            raise NotFoundError("technician", user_id)
        await session.execute(delete(TechnicianSkill).where(TechnicianSkill.user_id == user_id))
        session.add_all([TechnicianSkill(user_id=user_id, skill=s) for s in sorted(set(body.skills))])
        await session.flush()
        return (await _technicians(session, [user]))[0]


# --- report ---------------------------------------------------------------------------------


@routes.get("/reports/work-orders", query=ReportQuery, response=ReportOut, roles=WRITERS,
            produces=("text/csv",))
async def work_order_report(request: web.Request, query: ReportQuery) -> ReportOut | web.Response:
    """Mean time to resolve and the share resolved within the due time, overall and by
    priority, skill and kind, for orders opened in [since, until); `format=csv` for a file."""
    scope = scope_of(request)
    scope.claim_site(query.site)
    where = scope.where(WorkOrder.site_id)
    if query.site is not None:
        where = and_(where, WorkOrder.site_id == query.site)
    async with reading(request) as session:
        rows = await resolution_report(session, where, query.since, query.until)
    if query.format == "csv":
        return web.Response(text=as_csv(rows), content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition":
                                     'attachment; filename="work-orders.csv"'})
    return ReportOut(since=query.since, until=query.until,
                     rows=[ReportRow.model_validate(row, from_attributes=True) for row in rows])
