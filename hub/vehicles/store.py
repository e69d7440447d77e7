"""The vehicle domain's reads and writes: the permissions compiled for the edges, and the
stays (entry to exit) recorded from the lanes' events at ingest."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from hub.vehicles.models import (
    BlockedPlate,
    ParkingSpace,
    Vehicle,
    VehiclePassRow,
    VehicleSiteSettings,
    VehicleStay,
)
from wire.vehicles import BlockedPlate as WireBlocked
from wire.vehicles import (
    HouseholdSpaces,
    ResidentVehicle,
    VehiclePass,
    VehiclePermissions,
    VehicleSettings,
)


async def load_permissions(session: AsyncSession, site_id: str,
                           now: datetime) -> VehiclePermissions | None:
    """The site's vehicle permissions for its edges, or None when it has no vehicles at all
    (so a site without lanes carries nothing extra). Expired passes are left out."""
    vehicles = list(await session.scalars(
        select(Vehicle).where(Vehicle.site_id == site_id).order_by(Vehicle.plate)))
    passes = list(await session.scalars(
        select(VehiclePassRow).where(VehiclePassRow.site_id == site_id,
                                     VehiclePassRow.revoked.is_(False),
                                     VehiclePassRow.valid_until > now)
        .order_by(VehiclePassRow.id)))
    blocked = list(await session.scalars(
        select(BlockedPlate).where(BlockedPlate.site_id == site_id).order_by(BlockedPlate.plate)))
    stored = await session.get(VehicleSiteSettings, site_id)
    spaces = (await session.execute(
        select(ParkingSpace.household_id, func.count())
        .where(ParkingSpace.site_id == site_id,
               or_(ParkingSpace.valid_until.is_(None), ParkingSpace.valid_until > now))
        .group_by(ParkingSpace.household_id).order_by(ParkingSpace.household_id))).all()
    if not (vehicles or passes or blocked or stored or spaces):
        return None
    return VehiclePermissions(
        settings=settings_of(stored),
        residents=[ResidentVehicle(plate=v.plate, household_id=v.household_id,
                                   valid_from=v.valid_from, valid_until=v.valid_until,
                                   lanes=sorted(v.lanes or []))
                   for v in vehicles],
        passes=[VehiclePass(id=p.id, plate=p.plate, household_id=p.household_id,
                            valid_from=p.valid_from, valid_until=p.valid_until,
                            max_uses=p.max_uses, uses=p.uses) for p in passes],
        blocked=[WireBlocked(plate=b.plate, reason=b.reason) for b in blocked],
        spaces=[HouseholdSpaces(household_id=h, spaces=n) for h, n in spaces])


def settings_of(row: VehicleSiteSettings | None) -> VehicleSettings:
    if row is None:
        return VehicleSettings()
    return VehicleSettings.model_validate({
        "temporary_entry": row.temporary_entry, "passback": row.passback,
        "min_confidence": row.min_confidence, "over_spaces": row.over_spaces})


async def record_vehicle_events(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """From `vehicle` event rows stored now: an opened entry starts a stay (keyed by the
    event, so counted once), an opened exit ends the plate's open stays; visitor passes'
    uses are recounted from their stays."""
    entries, exits = [], []
    for row in sorted(rows, key=lambda r: r["ts"]):
        data = row["data"]
        if data["result"] != "open" or data.get("offline"):
            continue
        plate = data.get("matched_plate") or data["plate"]
        if data["direction"] == "entry":
            entries.append({"entry_event_id": row["id"], "site_id": row["site_id"],
                            "plate": plate, "lane": data["lane"], "reason": data["reason"],
                            "household_id": data.get("household_id"),
                            "pass_id": data.get("pass_id"), "entered_at": row["ts"]})
        else:
            exits.append((row, plate, data["plate"]))
    if entries:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await session.execute(insert(cast(Table, VehicleStay.__table__))
                              .on_conflict_do_nothing(index_elements=["entry_event_id"]), entries)
    for row, plate, read in exits:
        await session.execute(
            update(VehicleStay)
            .where(VehicleStay.site_id == row["site_id"], VehicleStay.left_at.is_(None),
                   or_(VehicleStay.plate == plate, VehicleStay.plate == read),
                   VehicleStay.entered_at <= row["ts"])
            .values(left_at=row["ts"], exit_event_id=row["id"]))
    passes = {e["pass_id"] for e in entries if e["pass_id"] is not None}
    if passes:
        counted = (select(func.count()).select_from(VehicleStay)
                   .where(and_(VehicleStay.pass_id == VehiclePassRow.id)).scalar_subquery())
        await session.execute(update(VehiclePassRow).where(VehiclePassRow.id.in_(passes))
                              .values(uses=counted))


async def inside(session: AsyncSession, site_ids: Sequence[str] | None
                 ) -> list[VehicleStay]:
    """The stays not yet ended, oldest first (None: every site)."""
    stmt = select(VehicleStay).where(VehicleStay.left_at.is_(None))
    if site_ids is not None:
        stmt = stmt.where(VehicleStay.site_id.in_(site_ids))
    return list(await session.scalars(stmt.order_by(VehicleStay.entered_at)))
