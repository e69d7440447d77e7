"""Demo data for `lintel demo` and the tests. Idempotent: running it twice changes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api.auth import create_user, hash_password, verify_password
from hub.models import (
    AccessGroup,
    Base,
    Building,
    CardCredential,
    Door,
    Edge,
    Household,
    Resident,
    ResidentAccount,
    Schedule,
    Site,
    Unit,
    User,
)
from hub.workorders.models import TechnicianSkill

DEMO_SITE = "demo"
DEMO_EDGE = "b1-edge"
# The demo's logins beside the admin, each with a password of its own (seed_demo_logins).
DEMO_RESIDENT = "zhang"  # 张伟's phone app: his dynamic QR code
DEMO_GUARD = "wang"  # the control room
DEMO_TECHNICIAN = "li"  # gets the building's work orders
DEMO_LOGINS = (DEMO_RESIDENT, DEMO_GUARD, DEMO_TECHNICIAN)
# The technician's skills: those of the demo building's fault codes.
TECHNICIAN_SKILLS = ("elevator_drive", "elevator_electrical", "elevator_mechanical",
                     "elevator_safety", "elevator_door", "elevator_rescue", "fire_water",
                     "fire_electrical", "fire_alarm", "cctv", "general",
                     "general_repair")  # residents' repair requests (hub.api.workorder_schemas)
ALWAYS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "24:00"}]

M = TypeVar("M", bound=Base)


async def _get_or_add(session: AsyncSession, model: type[M], where: dict[str, Any],
                      **values: Any) -> M:
    row = (await session.execute(select(model).filter_by(**where))).scalar_one_or_none()
    if row is None:
        row = model(**where, **values)
        session.add(row)
        await session.flush()
    return row


async def seed_demo(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Site `demo`: building B1 with units, edge `b1-edge`, doors B1-main and B1-garage,
    schedule `always`, group "1号楼大门" (B1-main, always); 张伟 holds card 1001 in that
    group, 李娜 holds card 1002 in no group. There is no card 9999."""
    async with sessions() as session, session.begin():
        site = await _get_or_add(session, Site, {"id": DEMO_SITE},
                                 name="演示小区 Demo Compound", timezone="Asia/Shanghai")
        b1 = await _get_or_add(session, Building, {"site_id": site.id, "code": "B1"}, name="1号楼")
        units = {}
        for number, floor in (("101", 1), ("102", 1), ("201", 2), ("202", 2)):
            units[number] = await _get_or_add(session, Unit, {"building_id": b1.id, "number": number},
                                              floor=floor)
        edge = await _get_or_add(session, Edge, {"site_id": site.id, "name": DEMO_EDGE},
                                 building_id=b1.id)
        main = await _get_or_add(session, Door, {"site_id": site.id, "name": "B1-main"},
                                 edge_id=edge.id, label="1号楼 正门")
        await _get_or_add(session, Door, {"site_id": site.id, "name": "B1-garage"},
                          edge_id=edge.id, label="1号楼 车库门")
        always = await _get_or_add(session, Schedule, {"site_id": site.id, "name": "always"},
                                   windows=ALWAYS)
        group = await _get_or_add(session, AccessGroup, {"site_id": site.id, "name": "1号楼大门"},
                                  schedule_id=always.id)
        await session.refresh(group, ["doors"])
        if main not in group.doors:
            group.doors.append(main)
        zhang = await _get_or_add(session, Resident, {"site_id": site.id, "name": "张伟"},
                                  unit_id=units["101"].id, phone="13800000001")
        await session.refresh(zhang, ["groups"])
        if group not in zhang.groups:
            zhang.groups.append(group)
        li = await _get_or_add(session, Resident, {"site_id": site.id, "name": "李娜"},
                               unit_id=units["102"].id, phone="13800000002")
        # issue 3: each resident in their unit's household
        for resident, number, kind in ((zhang, "101", "owner"), (li, "102", "tenant")):
            household = await _get_or_add(session, Household, {"unit_id": units[number].id},
                                          site_id=site.id, name="")
            resident.household_id, resident.type = household.id, kind
            units[number].status = "occupied" if kind == "owner" else "rented"
        await _get_or_add(session, CardCredential, {"site_id": site.id, "card_number": "1001"},
                          resident_id=zhang.id)
        await _get_or_add(session, CardCredential, {"site_id": site.id, "card_number": "1002"},
                          resident_id=li.id)



async def seed_demo_logins(sessions: async_sessionmaker[AsyncSession],
                           passwords: Mapping[str, str]) -> None:
    """The resident's (linked to 张伟), guard's and technician's logins, `passwords` by username
    (one for each of DEMO_LOGINS). A login that exists gets the given password back, so the
    logins the demo prints always work (older demo folders shared one staff password)."""
    missing = sorted(set(DEMO_LOGINS) - set(passwords))
    if missing:
        raise ValueError(f"seed_demo_logins: no password for {', '.join(missing)}")
    async with sessions() as session, session.begin():
        existing = {u.username: u for u in (await session.scalars(
            select(User).where(User.username.in_(DEMO_LOGINS)))).all()}
        for username, user in existing.items():
            if not await verify_password(user.password_hash, passwords[username]):
                user.password_hash = await hash_password(passwords[username])
        if DEMO_RESIDENT not in existing:
            zhang = await session.scalar(
                select(Resident).where(Resident.site_id == DEMO_SITE, Resident.name == "张伟"))
            if zhang is None:
                raise ValueError("seed_demo_logins: run seed_demo first (no resident 张伟)")
            user = await create_user(session, DEMO_RESIDENT, passwords[DEMO_RESIDENT], "resident",
                                     DEMO_SITE, household_id=zhang.household_id)
            session.add(ResidentAccount(user_id=user.id, resident_id=zhang.id))
        if DEMO_GUARD not in existing:
            await create_user(session, DEMO_GUARD, passwords[DEMO_GUARD], "guard", DEMO_SITE)
        if DEMO_TECHNICIAN not in existing:
            tech = await create_user(session, DEMO_TECHNICIAN, passwords[DEMO_TECHNICIAN],
                                     "technician", DEMO_SITE)
            session.add_all(TechnicianSkill(user_id=tech.id, skill=s) for s in TECHNICIAN_SKILLS)


__all__ = ["DEMO_EDGE", "DEMO_GUARD", "DEMO_LOGINS", "DEMO_RESIDENT", "DEMO_SITE",
           "DEMO_TECHNICIAN", "TECHNICIAN_SKILLS", "seed_demo", "seed_demo_logins"]
