"""Browser tests: Debian's Chromium driven by Playwright against the hub with the simulated
building (Mosquitto, SQLite, libosdp doors, the edge agent), shared by a module's tests."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from sqlalchemy import select

from edge.sensors.loader import load_models
from hub.api import create_user
from hub.models import Resident, ResidentAccount
from hub.service import Hub
from hub.workorders.models import TechnicianSkill
from simulators.modbus_devices import ModbusDeviceSimulator
from tests.support.building import Building, broker, demo_building

CHROMIUM = "/usr/bin/chromium"
# as root Chromium needs --no-sandbox; the rest keep it off the (closed) network
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "console password 1"
# A check waits for what the page must come to show. Many go through the edge and back (a
# command, its event, the ingest, the live push): under a second here, yet CI shares two
# cores with three test workers, and a stalled fsync there once held one past 5 s. Passing
# checks return as soon as they hold; only a failing one waits this long.
expect.set_options(timeout=15_000)
# login -> role; `zhang` acts as the demo resident 张伟
USERS = {"guard1": "guard", "tech1": "technician", "manager1": "manager", "zhang": "resident"}


async def _users(hub: Hub) -> None:
    async with hub.sessions() as session, session.begin():
        zhang = await session.scalar(select(Resident).where(Resident.name == "张伟"))
        assert zhang is not None
        for username, role in USERS.items():
            user = await create_user(session, username, PASSWORD, role, "demo")
            if role == "resident":
                user.household_id = zhang.household_id
                session.add(ResidentAccount(user_id=user.id, resident_id=zhang.id))
            if role == "technician":  # the lift's drive faults are theirs
                session.add(TechnicianSkill(user_id=user.id, skill="elevator_drive"))


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def lift() -> AsyncIterator[ModbusDeviceSimulator]:
    """The building's elevator controller (Modbus TCP), for fault injection."""
    model = load_models()["elevator-vvvf-a"]
    async with ModbusDeviceSimulator(model, name="B1-lift-1", transport="tcp") as sim:
        yield sim


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def building(tmp_path_factory: pytest.TempPathFactory,
                   lift: ModbusDeviceSimulator) -> AsyncIterator[Building]:
    tmp = tmp_path_factory.mktemp("console")
    elevator = {"id": "B1-lift-1", "model": "elevator-vvvf-a", "transport": "tcp",
                "host": "127.0.0.1", "tcp_port": lift.tcp_port, "poll_interval_s": 0.2,
                "timeout_s": 0.5}
    async with broker("mosquitto") as mqtt_port, demo_building(
        tmp, mqtt_port=mqtt_port, database_url=f"sqlite+aiosqlite:///{tmp / 'hub.db'}",
        doors=(("B1-main", 101), ("B1-garage", 102)), unlock_s=0.5, publish_debounce_s=0.05,
        prepare=_users, devices=[elevator], rules_check_interval_s=0.2,
        ready=lambda agent: bool(agent.cache.state and agent.cache.state.hub_public_key),
    ) as b:
        yield b


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    assert shutil.which(CHROMIUM), f"{CHROMIUM} is missing: `make system-deps` installs chromium"
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies), Chinese by default as a resident's phone is."""
    ctx = await browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 860})
    ctx.set_default_timeout(10_000)
    yield ctx
    await ctx.close()


async def logged_in(ctx: BrowserContext, building: Building, username: str,
                    phone: bool = False) -> Page:
    """A page of `ctx` signed in as `username` (the API's login sets the session cookie in
    the context's cookie jar, as the login form does)."""
    resp = await ctx.request.post(f"{building.api}/auth/login",
                                  data={"username": username, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    page = await ctx.new_page()
    if phone:
        await page.set_viewport_size({"width": 390, "height": 844})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
            and "missing message" in msg.text else None)
    page.js_errors = errors  # type: ignore[attr-defined]
    return page


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
