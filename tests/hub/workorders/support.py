"""A small maintenance world in a migrated database: a site, devices, technicians."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.models import Building, Device, Household, Site, Unit, User
from hub.workorders import TechnicianSkill, WorkOrder

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


class FakeClock:
    """A clock the tests move by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Place:
    site: str = "sunrise"
    devices: dict[str, int] = field(default_factory=dict)  # name -> id
    technicians: dict[str, int] = field(default_factory=dict)  # username -> id
    managers: list[int] = field(default_factory=list)
    unit: int = 0
    household: int = 0
    resident: int = 0  # a resident user of the household


async def add_technician(session: AsyncSession, site: str, username: str,
                         skills: list[str]) -> int:
    user = User(username=username, password_hash="x", role="technician", site_id=site)
    session.add(user)
    await session.flush()
    session.add_all([TechnicianSkill(user_id=user.id, skill=s) for s in skills])
    return user.id


async def build_place(sessions: async_sessionmaker[AsyncSession]) -> Place:
    place = Place()
    async with sessions() as session, session.begin():
        session.add_all([Site(id="sunrise", name="Sunrise", timezone="Asia/Shanghai"),
                         Site(id="moonbay", name="Moon Bay", timezone="Asia/Shanghai")])
        await session.flush()
        building = Building(site_id="sunrise", code="B1", name="Building 1")
        session.add(building)
        await session.flush()
        unit = Unit(building_id=building.id, number="101", floor=1)
        session.add(unit)
        await session.flush()
        household = Household(site_id="sunrise", unit_id=unit.id, name="张家")
        session.add(household)
        await session.flush()
        place.unit, place.household = unit.id, household.id
        for name, kind in (("lift-1", "elevator"), ("lift-2", "elevator"),
                           ("pump-1", "pressure_sensor")):
            device = Device(site_id="sunrise", edge="edge-b1", name=name, device_type=kind,
                            model="m", status="online")
            session.add(device)
            await session.flush()
            place.devices[name] = device.id
        away = Device(site_id="moonbay", edge="edge-m1", name="lift-m", device_type="elevator",
                      model="m", status="online")
        session.add(away)
        await session.flush()
        place.devices["away"] = away.id
        place.technicians["wang"] = await add_technician(
            session, "sunrise", "wang", ["elevator_door", "elevator"])
        place.technicians["li"] = await add_technician(
            session, "sunrise", "li", ["elevator_door", "plumbing"])
        place.technicians["zhao"] = await add_technician(session, "moonbay", "zhao",
                                                         ["elevator_door"])
        manager = User(username="boss", password_hash="x", role="manager", site_id="sunrise")
        resident = User(username="zhang", password_hash="x", role="resident",
                        household_id=household.id)
        session.add_all([manager, resident])
        await session.flush()
        place.managers, place.resident = [manager.id], resident.id
    return place


async def orders(sessions: async_sessionmaker[AsyncSession]) -> list[WorkOrder]:
    async with sessions() as session:
        return list(await session.scalars(select(WorkOrder).order_by(WorkOrder.id)))
