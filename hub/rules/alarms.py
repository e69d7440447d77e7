"""Alarm and notice operations shared by the rules engine and the API.

An alarm is raised with a dedup key; while one with that key is open (not cleared) in the
site, raising again updates it (count, last_seen) instead of opening another. The partial
unique index `uq_alarms_open_key` makes that hold across hub workers: the raise is an
INSERT .. ON CONFLICT DO UPDATE on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hub.rules.models import Alarm, AlarmHistory, Notice
from hub.texts import actor_marker, marker

ALARM_STATES = ("active", "acknowledged", "cleared")


@dataclass(frozen=True)
class AlarmRaise:
    site_id: str
    dedup_key: str
    type: str
    severity: str
    message: str
    ts: datetime  # event time
    rule: str | None = None
    event_id: str | None = None
    building_id: int | None = None
    edge: str | None = None
    device: str | None = None
    device_id: int | None = None
    door: str | None = None
    door_id: int | None = None
    snapshot_id: str | None = None
    message_code: str | None = None  # a hub/texts code; `message` is its English
    message_params: dict[str, Any] | None = None


async def raise_alarms(session: AsyncSession, specs: Sequence[AlarmRaise], now: datetime
                       ) -> list[tuple[Alarm, bool]]:
    """Open alarms, or count repeats of the open ones with the same keys, in one statement:
    raises with the same key count together (rows in key order, so two workers lock them
    alike). Returns each alarm and whether it was opened now."""
    if not specs:
        return []
    grouped: dict[tuple[str, str], list[AlarmRaise]] = {}
    for spec in specs:
        grouped.setdefault((spec.site_id, spec.dedup_key), []).append(spec)
    rows: list[dict[str, Any]] = []
    for key in sorted(grouped):
        group = sorted(grouped[key], key=lambda s: s.ts)
        first, last = group[0], group[-1]
        snapshot = next((s.snapshot_id for s in reversed(group) if s.snapshot_id is not None),
                        None)
        rows.append({
            "site_id": first.site_id, "building_id": first.building_id, "edge": first.edge,
            "device": first.device, "device_id": first.device_id, "door": first.door,
            "door_id": first.door_id, "snapshot_id": snapshot, "rule": first.rule,
            "type": first.type, "severity": first.severity, "dedup_key": first.dedup_key,
            "message": last.message[:500], "message_code": last.message_code,
            "message_params": last.message_params, "state": "active", "count": len(group),
            "event_id": first.event_id, "first_seen": first.ts, "last_seen": last.ts,
            "raised_at": now,
        })
    upsert = _raise_statement(session.get_bind().dialect.name)
    found = {(a.site_id, a.dedup_key): a for a in await session.scalars(
        upsert, rows, execution_options={"populate_existing": True})}
    out = []
    for row in rows:
        alarm = found[(row["site_id"], row["dedup_key"])]
        created = alarm.count == row["count"]
        if created:
            rule = row["rule"]
            session.add(AlarmHistory(alarm_id=alarm.id, ts=now, action="raised",
                                     actor=f"rule:{rule}" if rule else "system",
                                     note=row["message"], note_code=row["message_code"],
                                     note_params=row["message_params"]))
        out.append((alarm, created))
    return out


@cache
def _raise_statement(dialect: str) -> Any:
    """The upsert of `raise_alarms`, built once: the rows are its parameters (an ORM bulk
    INSERT .. RETURNING), so the statement is compiled once, not for each batch."""
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = dialect_insert(Alarm)
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=["site_id", "dedup_key"],
        index_where=Alarm.cleared_at.is_(None),
        set_={
            "count": Alarm.count + excluded.count,
            "last_seen": case((excluded.last_seen > Alarm.last_seen, excluded.last_seen),
                              else_=Alarm.last_seen),
            "message": excluded.message,
            "message_code": excluded.message_code,
            "message_params": excluded.message_params,
            "snapshot_id": case((excluded.snapshot_id.is_not(None), excluded.snapshot_id),
                                else_=Alarm.snapshot_id),
        },
    ).returning(Alarm)


def alarm_data(alarm: Alarm) -> dict[str, Any]:
    """An alarm as the API shows it and the live feed pushes it (JSON-able); its message a
    hub.texts marker, rendered for each reader (`hub.texts.localize`)."""
    return {
        "id": alarm.id, "site_id": alarm.site_id, "building_id": alarm.building_id,
        "edge": alarm.edge, "device": alarm.device, "device_id": alarm.device_id,
        "door": alarm.door, "door_id": alarm.door_id, "snapshot_id": alarm.snapshot_id,
        "snapshot_url": snapshot_url(alarm.snapshot_id),
        "rule": alarm.rule, "type": alarm.type, "severity": alarm.severity,
        "dedup_key": alarm.dedup_key,
        "message": marker(alarm.message_code, alarm.message_params, alarm.message),
        "message_code": alarm.message_code, "message_params": alarm.message_params,
        "state": alarm.state,
        "count": alarm.count, "event_id": alarm.event_id,
        "first_seen": alarm.first_seen.isoformat(), "last_seen": alarm.last_seen.isoformat(),
        "raised_at": alarm.raised_at.isoformat(),
        "acknowledged_at": _iso(alarm.acknowledged_at), "acknowledged_by": alarm.acknowledged_by,
        "cleared_at": _iso(alarm.cleared_at), "cleared_by": alarm.cleared_by,
        "acknowledged_by_text": actor_marker(alarm.acknowledged_by),
        "cleared_by_text": actor_marker(alarm.cleared_by),
    }


def snapshot_url(snapshot_id: str | None) -> str | None:
    """Where the hub serves a camera's snapshot (`GET /api/v1/snapshots/{id}`)."""
    return None if snapshot_id is None else f"/api/v1/snapshots/{snapshot_id}"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def clear_by_key(session: AsyncSession, site_id: str, dedup_key: str, actor: str,
                       note: str | None, now: datetime, *, note_code: str | None = None,
                       note_params: dict[str, Any] | None = None) -> Alarm | None:
    """Clear the open alarm with this key, if there is one."""
    stmt = (update(Alarm)
            .where(Alarm.site_id == site_id, Alarm.dedup_key == dedup_key,
                   Alarm.cleared_at.is_(None))
            .values(state="cleared", cleared_at=now, cleared_by=actor)
            .returning(Alarm)
            .execution_options(populate_existing=True, synchronize_session=False))
    alarm = (await session.scalars(stmt)).one_or_none()
    if alarm is not None:
        session.add(AlarmHistory(alarm_id=alarm.id, ts=now, action="cleared", actor=actor,
                                 note=note, note_code=note_code, note_params=note_params))
    return alarm


async def acknowledge(session: AsyncSession, alarm: Alarm, actor: str, note: str | None,
                      now: datetime) -> bool:
    """Active -> acknowledged; False when it was not active (nothing changes)."""
    if alarm.state != "active":
        return False
    alarm.state, alarm.acknowledged_at, alarm.acknowledged_by = "acknowledged", now, actor
    session.add(AlarmHistory(alarm_id=alarm.id, ts=now, action="acknowledged", actor=actor,
                             note=note))
    return True


async def clear(session: AsyncSession, alarm: Alarm, actor: str, note: str | None,
                now: datetime) -> bool:
    """Active or acknowledged -> cleared, by hand; False when already cleared."""
    if alarm.cleared_at is not None:
        return False
    alarm.state, alarm.cleared_at, alarm.cleared_by = "cleared", now, actor
    session.add(AlarmHistory(alarm_id=alarm.id, ts=now, action="cleared", actor=actor,
                             note=note))
    return True


# Every step of an alarm is written at the hub's time between its raise and its clear; the
# margin only absorbs two hub workers' clocks disagreeing.
STEP_MARGIN = timedelta(days=1)


def history_query(alarm: Alarm) -> Select[AlarmHistory]:
    """The alarm's steps, oldest first. Bounded by the alarm's raise (and clear) so that on
    PostgreSQL only the months of its life are read, not every partition of alarm_history."""
    stmt = select(AlarmHistory).where(AlarmHistory.alarm_id == alarm.id,
                                      AlarmHistory.ts >= alarm.raised_at - STEP_MARGIN)
    if alarm.cleared_at is not None:
        stmt = stmt.where(AlarmHistory.ts <= alarm.cleared_at + STEP_MARGIN)
    return stmt.order_by(AlarmHistory.ts, AlarmHistory.id)


async def history(session: AsyncSession, alarm: Alarm) -> list[AlarmHistory]:
    return list(await session.scalars(history_query(alarm)))


async def delete_cleared_before(session: AsyncSession, cutoff: datetime, limit: int) -> int:
    """Up to `limit` alarms cleared before `cutoff` deleted with their steps (and comments, by
    their foreign key); how many. Raised before their clear, so `ix_alarms_raised` finds them;
    a cleared alarm gets no step after its clear, so the steps' bound prunes to old months."""
    ids = list(await session.scalars(
        select(Alarm.id).where(Alarm.raised_at < cutoff, Alarm.cleared_at < cutoff)
        .order_by(Alarm.raised_at, Alarm.id).limit(limit)))
    if ids:
        await session.execute(delete(AlarmHistory).where(
            AlarmHistory.alarm_id.in_(ids), AlarmHistory.ts < cutoff + STEP_MARGIN)
            .execution_options(synchronize_session=False))
        await session.execute(delete(Alarm).where(Alarm.id.in_(ids))
                              .execution_options(synchronize_session=False))
    return len(ids)


def notice_data(notice: Notice) -> dict[str, Any]:
    return {
        "id": notice.id, "site_id": notice.site_id, "building_id": notice.building_id,
        "unit_id": notice.unit_id,
        "title": marker(notice.text_code and f"{notice.text_code}.title", notice.text_params,
                        notice.title),
        "body": marker(notice.text_code and f"{notice.text_code}.body", notice.text_params,
                       notice.body),
        "valid_from": notice.valid_from.isoformat(), "valid_until": _iso(notice.valid_until),
        "source": notice.source, "on_boards": bool(notice.on_boards),
        "created_by": notice.created_by,
        "created_at": notice.created_at.isoformat(),
    }


__all__ = ["ALARM_STATES", "STEP_MARGIN", "AlarmRaise", "acknowledge", "alarm_data", "clear",
           "clear_by_key", "delete_cleared_before", "history", "history_query", "notice_data", "raise_alarms",
           "snapshot_url"]
