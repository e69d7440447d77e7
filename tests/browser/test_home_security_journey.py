"""Home security in the browser (issue 18): the resident arms and disarms from the phone (an
open window refuses the arm, named, and is bypassed by choice), in Chinese; the guard's
console gets the intrusion alarm the moment the entry delay runs out, and the resident's page
shows it too, in English."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, expect
from sqlalchemy import delete, update

from edge.sensors.loader import load_models
from edge.sensors.models import SerialSettings
from hub.models import Door, Line
from hub.service import Hub
from simulators.modbus_devices import ModbusDeviceSimulator
from tests.browser.conftest import _users, logged_in, screenshot
from tests.support.building import Building, broker, demo_building
from tests.support.homesec import commission_panels

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]
FRONT_DOOR, WINDOW = 1, 3


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def panel() -> AsyncIterator[ModbusDeviceSimulator]:
    model = load_models()["alarm-panel-8z"]
    async with ModbusDeviceSimulator(model, name="panel-101",
                                     serial=SerialSettings(baudrate=9600, parity="N")) as sim:
        yield sim


async def _home(hub: Hub) -> None:
    """The console's logins; the demo's reader lines (absent here) leave the installation."""
    await _users(hub)
    async with hub.sessions() as session, session.begin():
        await session.execute(update(Door).values(line_id=None, reader_address=None))
        await session.execute(delete(Line))


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def building(tmp_path_factory: pytest.TempPathFactory,
                   panel: ModbusDeviceSimulator) -> AsyncIterator[Building]:
    tmp = tmp_path_factory.mktemp("homesec")
    async with broker("mosquitto") as mqtt_port, demo_building(
            tmp, mqtt_port=mqtt_port, database_url=f"sqlite+aiosqlite:///{tmp / 'hub.db'}",
            prepare=_home, publish_debounce_s=0.05, rules_check_interval_s=0.2) as b:
        await commission_panels(b, panel.port or "", [("panel-101", "101", panel.unit_id)],
                                exit_s=0.5, entry_s=1.0, poll_s=0.1)
        yield b


async def test_the_resident_arms_bypassing_an_open_window_then_disarms(
        building: Building, context: BrowserContext, panel: ModbusDeviceSimulator) -> None:
    page = await logged_in(context, building, "zhang", phone=True)
    await page.goto(f"{building.hub.url}/me/security")
    state = page.locator("#homesec-state")
    await expect(state).to_contain_text("已撤防")
    panel.zone(WINDOW, "active")
    await page.wait_for_timeout(300)  # two polls: the edge sees the window open
    await page.get_by_test_id("arm-away").click()
    refused = page.get_by_test_id("homesec-refused")
    await expect(refused).to_contain_text("卧室窗 (3)")
    await screenshot(page, "resident-arm-refused-zh-phone")
    await page.get_by_test_id("arm-bypass").click()
    await expect(state.locator("strong")).to_have_attribute("data-phase", "armed")
    await expect(state).to_contain_text("离家布防")
    await page.get_by_test_id("disarm").click()
    await expect(state).to_contain_text("已撤防")
    panel.zone(WINDOW, "normal")
    assert page.js_errors == []  # type: ignore[attr-defined]


async def test_the_guard_gets_the_intrusion_and_the_residents_page_shows_it_in_english(
        building: Building, browser: Browser, panel: ModbusDeviceSimulator) -> None:
    ctx = await browser.new_context(locale="en-US", viewport={"width": 1366, "height": 860})
    ctx.set_default_timeout(10_000)
    await ctx.add_cookies([{"name": "lintel_lang", "value": "en", "url": building.hub.url}])
    try:
        await _intrusion(building, ctx, panel)
    finally:
        await ctx.close()


async def _intrusion(building: Building, ctx: BrowserContext,
                     panel: ModbusDeviceSimulator) -> None:
    guard = await logged_in(ctx, building, "guard1")
    await guard.goto(f"{building.hub.url}/guard")
    await expect(guard.locator("#live")).to_have_class(re.compile(r"\bon\b"))
    resident = await logged_in(ctx, building, "zhang", phone=True)
    await resident.goto(f"{building.hub.url}/me/security")
    await resident.get_by_test_id("arm-away").click()
    await expect(resident.locator("#homesec-state strong")).to_have_attribute(
        "data-phase", "armed")
    panel.zone(FRONT_DOOR, "active")  # nobody disarms within the entry delay
    alarm = guard.locator('#alarm-list li[data-type="home_intrusion"]')
    await expect(alarm).to_contain_text("INTRUSION at unit 101")
    await expect(alarm).to_contain_text("Front door")
    await screenshot(guard, "guard-home-intrusion-en-1366")
    mine = resident.locator('#homesec-alarms [data-alarm="home_intrusion"]')
    await expect(mine).to_contain_text("INTRUSION at unit 101")
    await expect(resident.locator("#homesec-state")).to_contain_text("ALARM")
    panel.zone(FRONT_DOOR, "normal")
    await resident.get_by_test_id("disarm").click()
    await expect(resident.locator("#homesec-state")).to_contain_text("Disarmed")
    assert guard.js_errors == [] and resident.js_errors == []  # type: ignore[attr-defined]
