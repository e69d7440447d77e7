"""Maintenance by the rules of the trade: several cycles per device, with defaults per device
type and the longest interval each rule allows (hub/workorders/cycles.yaml: TSG T5002-2017 for
lifts, GB 25201-2010 for fire facilities), preventive orders carrying the checklist of every
cycle due that day, and the cycles moved on when the technician has ticked every item."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import Conflict, InvalidInput
from hub.models import Device, Site
from hub.texts import pair, word
from hub.workorders.ledger import end_of_day, local_date, site_zone
from hub.workorders.models import MaintenanceCycle, WorkOrder

RULES_FILE = Path(__file__).with_name("cycles.yaml")
_KIND = {"elevator": "lift", "fire_panel": "fire panel", "pressure_sensor": "fire water supply"}
CycleName = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z_]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChecklistItem(_Strict):
    code: str = Field(min_length=1, max_length=16)
    text_en: str = Field(min_length=1, max_length=300)
    text_zh: str = Field(min_length=1, max_length=300)


class CycleRule(_Strict):
    name: CycleName
    days: int = Field(ge=1, le=3660, description="the default interval")
    max_days: int = Field(ge=1, le=3660, description="the longest interval the rule allows")
    text_en: str
    text_zh: str
    items: list[ChecklistItem] = Field(min_length=1)


class TypeRules(_Strict):
    rule: str = Field(min_length=1, max_length=64, description="the rule's name, e.g. TSG T5002-2017")
    cycles: list[CycleRule] = Field(min_length=1)

    def cycle(self, name: str) -> CycleRule | None:
        return next((c for c in self.cycles if c.name == name), None)


@functools.cache
def rules() -> dict[str, TypeRules]:
    """The cycles per device type, read and checked once."""
    raw = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return {kind: TypeRules.model_validate(value) for kind, value in raw.items()}


def check_days(device_type: str, name: str, days: int, field: str = "days") -> CycleRule:
    """The rule of cycle `name` for this type; a cycle longer than the rule allows, or one the
    type does not have, is refused naming the rule."""
    kind = rules().get(device_type)
    cycle = None if kind is None else kind.cycle(name)
    if kind is None or cycle is None:
        known = [] if kind is None else [c.name for c in kind.cycles]
        raise InvalidInput(field.rsplit(".", 1)[0] + ".name",
                           f"a {device_type} has no maintenance cycle {name!r}; "
                           f"known: {', '.join(known) or 'none'}", "invalid.no_cycle",
                           type=word(f"device_type.{device_type}", device_type), name=name,
                           known=", ".join(known))
    if days > cycle.max_days:
        raise InvalidInput(field, f"{kind.rule}: the {cycle.text_en.lower()} of a "
                           f"{_KIND.get(device_type, device_type)} is due at most every "
                           f"{cycle.max_days} days, not {days}", "invalid.cycle_too_long",
                           rule=kind.rule, cycle=pair(cycle.text_en.lower(), cycle.text_zh),
                           type=word(f"device_type.{device_type}", device_type),
                           max=cycle.max_days)
    return cycle


def check_single_cycle(device_type: str, days: int, field: str = "cycle_days") -> None:
    """The ledger's single cycle may not be longer than the type's most frequent rule allows
    (a lift maintained only every 30 days breaks TSG T5002-2017's half-monthly rule)."""
    kind = rules().get(device_type)
    if kind is None:
        return
    shortest = min(kind.cycles, key=lambda c: c.max_days)
    if days > shortest.max_days:
        raise InvalidInput(field, f"{kind.rule}: the {shortest.text_en.lower()} of a "
                           f"{_KIND.get(device_type, device_type)} is due at most every "
                           f"{shortest.max_days} days, not {days}", "invalid.cycle_too_long",
                           rule=kind.rule, cycle=pair(shortest.text_en.lower(), shortest.text_zh),
                           type=word(f"device_type.{device_type}", device_type),
                           max=shortest.max_days)


async def set_cycles(session: AsyncSession, device: Device, wanted: Sequence[dict[str, Any]],
                     today: date, now: datetime) -> list[MaintenanceCycle]:
    """Replace the device's cycles: each {name, days?, next_due_on?} (days: the rule's default;
    next due: kept, else a cycle from today). An empty list sets the type's defaults."""
    kind = rules().get(device.device_type)
    if not wanted:
        if kind is None:
            raise InvalidInput("cycles", f"no default cycles for a {device.device_type}",
                               "invalid.no_default_cycles",
                               type=word(f"device_type.{device.device_type}", device.device_type))
        wanted = [{"name": c.name} for c in kind.cycles]
    held = {c.name: c for c in await session.scalars(
        select(MaintenanceCycle).where(MaintenanceCycle.device_id == device.id))}
    names = [w["name"] for w in wanted]
    if len(set(names)) != len(names):
        raise InvalidInput("cycles", f"a cycle named twice: {sorted(names)}",
                           "invalid.cycle_twice", names=", ".join(sorted(names)))
    result = []
    for i, w in enumerate(wanted):
        rule = check_days(device.device_type, w["name"], 0, f"cycles.{i}.days")
        days = w.get("days") or rule.days
        check_days(device.device_type, w["name"], days, f"cycles.{i}.days")
        row = held.pop(w["name"], None)
        new = row is None
        if row is None:
            row = MaintenanceCycle(device_id=device.id, name=w["name"])
            session.add(row)
        row.days, row.updated_at = days, now
        if w.get("next_due_on") is not None:
            row.next_due_on = w["next_due_on"]
        elif new or row.next_due_on > today + timedelta(days=days):
            row.next_due_on = (row.last_done_on or today) + timedelta(days=days)
        result.append(row)
    for gone in held.values():
        await session.delete(gone)
    await session.flush()
    return sorted(result, key=lambda c: c.days)


async def cycles_of(session: AsyncSession, devices: Iterable[int]) -> dict[int, list[MaintenanceCycle]]:
    out: dict[int, list[MaintenanceCycle]] = {}
    for row in await session.scalars(
            select(MaintenanceCycle).where(MaintenanceCycle.device_id.in_(sorted(set(devices))))
            .order_by(MaintenanceCycle.days)):
        out.setdefault(row.device_id, []).append(row)
    return out


_TABLE: Table = WorkOrder.__table__  # type: ignore[assignment]


async def open_cycle_orders(session: AsyncSession, now: datetime, lead_days: int,
                            busy: set[int | None]) -> list[int]:
    """One preventive order per device for the cycles next due within `lead_days`: every cycle
    due on that earliest day in one visit, its checklist the union of theirs. Unique per device
    and due date in the database, so two hub workers open it once. The ids opened."""
    horizon = now.date() + timedelta(days=lead_days + 1)
    rows = (await session.execute(
        select(MaintenanceCycle, Device, Site.timezone)
        .join(Device, Device.id == MaintenanceCycle.device_id)
        .join(Site, Site.id == Device.site_id)
        .where(MaintenanceCycle.next_due_on <= horizon)
        .order_by(MaintenanceCycle.device_id, MaintenanceCycle.next_due_on))).all()
    by_device: dict[int, list[tuple[MaintenanceCycle, Device, str]]] = {}
    for cycle, device, timezone in rows:
        by_device.setdefault(device.id, []).append((cycle, device, timezone))
    insert = (postgresql.insert(_TABLE) if session.get_bind().dialect.name == "postgresql"
              else sqlite.insert(_TABLE))
    opened = []
    for device_id, due_cycles in by_device.items():
        if device_id in busy:
            continue
        _, device, timezone = due_cycles[0]
        zone = site_zone(timezone)
        due = due_cycles[0][0].next_due_on
        if local_date(now, zone) < due - timedelta(days=lead_days):
            continue
        kind = rules().get(device.device_type)
        if kind is None:
            continue
        cycles = [c for c, _, _ in due_cycles if c.next_due_on == due and kind.cycle(c.name)]
        checklist = [
            {"code": item.code, "cycle": c.name, "text_en": item.text_en, "text_zh": item.text_zh,
             "done": False, "done_by": None, "done_at": None}
            for c in cycles for item in (kind.cycle(c.name) or _NONE).items]
        what = " + ".join((kind.cycle(c.name) or _NONE).text_en for c in cycles)
        new_id = await session.scalar(insert.values(
            site_id=device.site_id, kind="preventive", source="pm", device_id=device.id,
            pm_due_on=due, title=f"Preventive maintenance: {device.name} (due {due})"[:200],
            title_code="wo_title.preventive", title_params={"device": device.name, "due": str(due)},
            description=f"{what} ({kind.rule})", skill=device.device_type, priority="normal",
            state="open", created_at=now, due_at=end_of_day(due, zone), checklist=checklist,
        ).on_conflict_do_nothing().returning(_TABLE.c.id))
        if new_id is not None:
            opened.append(new_id)
            busy.add(device_id)
    return opened


_NONE = CycleRule(name="none", days=1, max_days=1, text_en="-", text_zh="-",
                  items=[ChecklistItem(code="-", text_en="-", text_zh="-")])


def tick(order: WorkOrder, ticks: dict[str, bool], who: str, now: datetime) -> None:
    """Tick (or untick) checklist items by code; an unknown code changes nothing (422)."""
    items = [dict(i) for i in order.checklist or []]
    known = {i["code"] for i in items}
    unknown = sorted(set(ticks) - known)
    if unknown:
        raise InvalidInput("ticks", f"work order {order.id} has no checklist item {unknown}; "
                           f"its items: {sorted(known) or 'none'}", "invalid.no_checklist_item",
                           id=order.id, items=", ".join(unknown), known=", ".join(sorted(known)))
    if ticks and order.state in ("resolved", "closed"):
        raise Conflict(f"work order {order.id} is {order.state}: its checklist is final",
                       "error.checklist_final", id=order.id,
                       state=word(f"wo_state.{order.state}", order.state))
    for item in items:
        if item["code"] in ticks:
            done = ticks[item["code"]]
            item.update(done=done, done_by=who if done else None,
                        done_at=now.isoformat() if done else None)
    order.checklist = items  # a new list, so the ORM sees the change


def check_complete(order: WorkOrder) -> None:
    """A preventive order resolves only with every checklist item ticked."""
    left = [i["code"] for i in order.checklist or [] if not i.get("done")]
    if left:
        raise Conflict(f"work order {order.id}: checklist items not ticked: {', '.join(left)}",
                       "error.checklist_left", id=order.id, items=", ".join(left))


async def cycles_done(session: AsyncSession, order: WorkOrder, today: date,
                      now: datetime) -> None:
    """The cycles this order covered were done today: each is next due one interval on (a due
    date a manager moved meanwhile stays as they set it)."""
    names = {i["cycle"] for i in order.checklist or []}
    if order.device_id is None or not names:
        return
    for cycle in await session.scalars(select(MaintenanceCycle).where(
            MaintenanceCycle.device_id == order.device_id, MaintenanceCycle.name.in_(names))):
        cycle.last_done_on, cycle.updated_at = today, now
        if cycle.next_due_on == order.pm_due_on:
            cycle.next_due_on = today + timedelta(days=cycle.days)


__all__ = ["check_complete", "check_days", "check_single_cycle", "cycles_done", "cycles_of",
           "open_cycle_orders", "rules", "set_cycles", "tick"]
