from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.hub.workorders.support import Place, build_place


@pytest.fixture
async def place(sessions: async_sessionmaker[AsyncSession]) -> Place:
    return await build_place(sessions)
