"""Home security in the browser (issue 18): the resident arms and disarms from the phone (an
open window refuses the arm, named, and is bypassed by choice), in Chinese; the guard's
console gets the intrusion alarm the moment the entry delay runs out, and the resident's page
shows it too, in English. The resident also sets the unit's arm schedule on the phone, in both
languages: a bad time and a clash refused at their entry (nothing stored, nothing at the edge),
then saved, and the building's edge holding it."""

from __future__ import annotations

import asyncio
import re
import time
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
    try:
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
        assert page.js_errors == []  # type: ignore[attr-defined]
    finally:  # an open window left behind would refuse the next test's arm
        panel.zone(WINDOW, "normal")


async def test_the_guard_gets_the_intrusion_and_the_residents_page_shows_it_in_english(
        building: Building, browser: Browser, panel: ModbusDeviceSimulator) -> None:
    ctx = await browser.new_context(locale="en-US", viewport={"width": 1366, "height": 860})
    ctx.set_default_timeout(10_000)
    await ctx.add_cookies([{"name": "lintel_lang", "value": "en", "url": building.hub.url}])
    try:
        await _intrusion(building, ctx, panel)
    finally:
        panel.zone(FRONT_DOOR, "normal")
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


def _at_the_edge(building: Building) -> list[tuple[list[int], str, str]]:
    unit = building.agent.homesec.units["panel-101"]  # replaced when a configuration changes it
    return [(s.days, s.at, s.mode) for s in unit.settings.schedule]


async def _edge_holds(building: Building, wanted: list[tuple[list[int], str, str]]) -> None:
    deadline = time.monotonic() + 15
    while _at_the_edge(building) != wanted:
        assert time.monotonic() < deadline, f"the edge holds {_at_the_edge(building)}"
        await asyncio.sleep(0.05)


async def _set_schedule(building: Building, schedule: list[dict[str, object]]) -> None:
    """As the manager would (the installation's resource), so each test starts from its own."""
    panel = (await building.call("GET", "/security-panels"))["items"][0]["id"]
    await building.call("PATCH", f"/security-panels/{panel}", {"schedule": schedule})


async def test_the_resident_sets_the_arm_schedule_on_the_phone_in_chinese(
        building: Building, context: BrowserContext) -> None:
    await _set_schedule(building, [])
    await _edge_holds(building, [])
    try:
        page = await logged_in(context, building, "zhang", phone=True)
        await page.goto(f"{building.hub.url}/me/security")
        card = page.get_by_test_id("homesec-schedule")
        await expect(card).to_contain_text("定时布防")
        await expect(card).to_contain_text("未设定时布防")
        await expect(page.locator("#homesec-state")).to_contain_text("101 室")
        await expect(page.locator("#homesec-state")).not_to_contain_text("null")
        error = page.get_by_test_id("schedule-error")
        # a time that is no time: refused at its entry, nothing stored
        await page.get_by_test_id("schedule-add").click()
        first = page.get_by_test_id("schedule-entry").nth(0)
        await expect(first.locator("legend")).to_have_text("第 1 条")
        await first.locator("input[name=at]").fill("25:00")
        await page.get_by_test_id("schedule-save").click()
        await expect(error).to_have_text("第 1 条：时间：25:00 不是 时:分 格式的时间")
        await expect(first).to_have_class(re.compile(r"\binvalid\b"))
        await expect(first.locator("[data-field=at]")).to_have_class(re.compile(r"\binvalid\b"))
        # two instructions for Monday 08:30: the second is refused, naming the first
        await first.locator("input[name=at]").fill("08:30")
        await page.get_by_test_id("schedule-add").click()
        second = page.get_by_test_id("schedule-entry").nth(1)
        await second.locator("input[name=at]").fill("08:30")
        await second.locator("select[name=mode]").select_option("disarmed")
        await page.get_by_test_id("schedule-save").click()
        await expect(error).to_have_text("第 2 条：布防计划：与第 1 项冲突：周一 08:30 已设为离家布防")
        await expect(second).to_have_class(re.compile(r"\binvalid\b"))
        await expect(first).not_to_have_class(re.compile(r"\binvalid\b"))
        assert _at_the_edge(building) == []
        # weekdays: away at 08:30, disarmed at 18:00
        await second.locator("input[name=at]").fill("18:00")
        await page.get_by_test_id("schedule-save").click()
        await expect(page.locator(".toast").last).to_contain_text("定时布防已保存")
        await expect(error).to_have_text("")
        await _edge_holds(building, [([1, 2, 3, 4, 5], "08:30", "away"),
                                     ([1, 2, 3, 4, 5], "18:00", "disarmed")])
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        await screenshot(page, "resident-arm-schedule-zh-phone")
        # shown again as saved
        await page.reload()
        await expect(page.get_by_test_id("schedule-entry")).to_have_count(2)
        await expect(page.get_by_test_id("schedule-entry").nth(1).locator("input[name=at]")
                     ).to_have_value("18:00")
        await expect(page.get_by_test_id("schedule-entry").nth(1).locator("select[name=mode]")
                     ).to_have_value("disarmed")
        assert page.js_errors == []  # type: ignore[attr-defined]
    finally:
        await _set_schedule(building, [])


async def test_the_resident_changes_the_arm_schedule_in_english(
        building: Building, browser: Browser) -> None:
    await _set_schedule(building, [{"days": [1, 2, 3, 4, 5], "at": "08:30", "mode": "away"},
                                   {"days": [1, 2, 3, 4, 5], "at": "18:00", "mode": "disarmed"}])
    ctx = await browser.new_context(locale="en-US")
    ctx.set_default_timeout(10_000)
    await ctx.add_cookies([{"name": "lintel_lang", "value": "en", "url": building.hub.url}])
    try:
        page = await logged_in(ctx, building, "zhang", phone=True)
        await page.goto(f"{building.hub.url}/me/security")
        card = page.get_by_test_id("homesec-schedule")
        await expect(card).to_contain_text("Arm schedule")
        entries = page.get_by_test_id("schedule-entry")
        await expect(entries).to_have_count(2)
        await entries.nth(1).get_by_test_id("schedule-remove").click()
        await expect(entries).to_have_count(1)
        first = entries.nth(0)
        for day in ("Mon", "Tue", "Wed", "Thu", "Fri"):  # no day left: refused
            await first.get_by_label(day).uncheck()
        await page.get_by_test_id("schedule-save").click()
        error = page.get_by_test_id("schedule-error")
        await expect(error).to_have_text("Entry 1: days: must have at least 1 items")
        await expect(first.locator("[data-field=days]")).to_have_class(re.compile(r"\binvalid\b"))
        assert len(_at_the_edge(building)) == 2  # unchanged
        # weekends: at home at 23:00
        await first.get_by_label("Sat").check()
        await first.get_by_label("Sun").check()
        await first.locator("input[name=at]").fill("23:00")
        await first.locator("select[name=mode]").select_option(label="Arm (at home)")
        await page.get_by_test_id("schedule-save").click()
        await expect(page.locator(".toast").last).to_contain_text(
            "Schedule saved; the building's edge keeps it.")
        await _edge_holds(building, [([6, 7], "23:00", "stay")])
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        await screenshot(page, "resident-arm-schedule-en-phone")
        assert page.js_errors == []  # type: ignore[attr-defined]
    finally:
        await ctx.close()
        await _set_schedule(building, [])
