"""The demo's logins: each its own password, and the printed one always works."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api.auth import verify_password
from hub.models import ResidentAccount, User
from hub.seed import DEMO_GUARD, DEMO_RESIDENT, DEMO_TECHNICIAN, seed_demo, seed_demo_logins
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
