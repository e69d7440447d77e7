"""The demo's logins: each its own password, and the printed one always works."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api.core.auth import verify_password
from hub.models import ResidentAccount, User
from hub.patrol.models import GuardCard, Route
from hub.patrol.rounds import stops_of
from hub.seed import (
    DEMO_GUARD,
    DEMO_GUARD_CARD,
    DEMO_RESIDENT,
    DEMO_ROUTE,
    DEMO_TECHNICIAN,
    seed_demo,
    seed_demo_logins,
    seed_patrol,
)
from hub.workorders.models import TechnicianSkill

pytestmark = [pytest.mark.timeout(60)]

PASSWORDS = {DEMO_RESIDENT: "resident pw", DEMO_GUARD: "guard pw", DEMO_TECHNICIAN: "tech pw"}


async def _users(sessions: async_sessionmaker[AsyncSession]) -> dict[str, User]:
    async with sessions() as session:
        return {u.username: u for u in (await session.scalars(select(User))).all()}


async def test_each_demo_login_has_its_own_password_and_role(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await seed_demo(sessions)
    await seed_demo_logins(sessions, PASSWORDS)
    await seed_demo_logins(sessions, PASSWORDS)  # a second start adds nobody
    users = await _users(sessions)
    assert {name: u.role for name, u in users.items()} == {
        DEMO_RESIDENT: "resident", DEMO_GUARD: "guard", DEMO_TECHNICIAN: "technician"}
    for name, password in PASSWORDS.items():
        assert await verify_password(users[name].password_hash, password)
        for other, other_password in PASSWORDS.items():
            if other != name:
                assert not await verify_password(users[name].password_hash, other_password)
    async with sessions() as session:
        linked = await session.scalar(select(ResidentAccount.user_id))
        skills = set((await session.scalars(select(TechnicianSkill.skill))).all())
    assert linked == users[DEMO_RESIDENT].id
    assert {"elevator_door", "fire_alarm", "cctv"} <= skills


async def test_a_demo_folder_with_a_shared_staff_password_gets_the_new_ones(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    """Demo folders made before each login had its own password shared one for staff."""
    await seed_demo(sessions)
    shared = {DEMO_RESIDENT: "resident pw", DEMO_GUARD: "staff", DEMO_TECHNICIAN: "staff"}
    await seed_demo_logins(sessions, shared)
    await seed_demo_logins(sessions, PASSWORDS)
    users = await _users(sessions)
    assert await verify_password(users[DEMO_GUARD].password_hash, "guard pw")
    assert await verify_password(users[DEMO_TECHNICIAN].password_hash, "tech pw")
    assert not await verify_password(users[DEMO_GUARD].password_hash, "staff")


async def test_a_missing_password_is_refused_and_adds_nobody(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await seed_demo(sessions)
    with pytest.raises(ValueError, match=DEMO_TECHNICIAN):
        await seed_demo_logins(sessions, {DEMO_RESIDENT: "a", DEMO_GUARD: "b"})
    assert await _users(sessions) == {}


async def test_the_demo_patrol_has_checkpoints_a_night_route_and_the_guards_card(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    await seed_demo(sessions)
    await seed_demo_logins(sessions, PASSWORDS)
    secrets = await seed_patrol(sessions)
    assert await seed_patrol(sessions) == secrets  # a second start changes nothing
    async with sessions() as session:
        route = await session.scalar(select(Route).where(Route.code == DEMO_ROUTE))
        assert route is not None
        stops = await stops_of(session, route.id)
        card = await session.scalar(select(GuardCard))
    assert (route.every_min, route.from_hour, route.to_hour) == (120, 22, 6)
    assert [(c.code, c.kind) for _, c in stops] == [
        ("CP1", "display"), ("CP2", "display"), ("CP3", "door"), ("CP4", "display")]
    assert set(secrets) == {"CP1", "CP2", "CP4"}
    assert card is not None and card.card_number == DEMO_GUARD_CARD
