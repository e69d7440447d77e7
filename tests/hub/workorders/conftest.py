from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.hub.workorders.support import Place, build_place
from tests.support.services import free_port


@pytest.fixture
async def place(sessions: async_sessionmaker[AsyncSession]) -> Place:
    return await build_place(sessions)


@dataclass
class Receiver:
    url: str
    answers: list[int] = field(default_factory=list)  # status per request, then 200
    got: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    box = Receiver(url=f"http://127.0.0.1:{port}/hooks/work-orders")

    async def hook(request: web.Request) -> web.Response:
        box.got.append((request.headers["X-Lintel-Event"], await request.json()))
        status = box.answers.pop(0) if box.answers else 200
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/hooks/work-orders", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield box
    finally:
        await runner.cleanup()
