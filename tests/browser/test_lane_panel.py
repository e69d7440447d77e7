"""The guard's lane panel in Debian's Chromium, in Chinese and in English (issue 17): the
simulated plate camera pushes to the edge's lane; the panel shows each decision live (a
resident let in, a blocked plate refused with its alarm, an unknown car held for the guard),
the guard opens the barrier for the held car with a reason that the command log keeps, and
corrects a misread plate (logged)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, async_playwright, expect
from sqlalchemy import select

from harness.services import free_port
from hub.models import Edge, Household
from hub.service import Hub
from hub.vehicles.models import BlockedPlate, Lane, Vehicle, VehicleSiteSettings
from simulators.lpr import push_plate
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, _users, logged_in, screenshot
from tests.support.building import Building, broker, demo_building

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]
SECRET = "lane-panel-secret"
DIGEST = hashlib.sha256(SECRET.encode()).hexdigest()
WORDS = {  # what each language's panel says
    "zh": {"opened": "已放行", "refused": "已拒绝", "held": "等待岗亭处理",
           "blocked": "黑名单车辆", "sent": "已向车道 gate-in 发送抬杆指令",
           "corrected": "已纠正为 粤B12345"},
    "en": {"opened": "opened", "refused": "refused", "held": "held for the guard",
           "blocked": "Blocked vehicle", "sent": "Open sent to lane gate-in",
           "corrected": "corrected to 粤B12345"},
}


async def _registry(hub: Hub) -> None:
    """The console's logins, a resident car, a blocked plate, unknown cars held for the guard,
    and the lane as the hub's installation names it."""
    await _users(hub)
    async with hub.sessions() as session, session.begin():
        household = (await session.scalars(select(Household).order_by(Household.id))).first()
        edge = await session.scalar(select(Edge).where(Edge.name == "b1-edge"))
        assert household is not None and edge is not None
        session.add_all([
            Vehicle(site_id="demo", household_id=household.id, plate="粤B12345"),
            BlockedPlate(site_id="demo", plate="粤B99999", reason="stolen"),
            VehicleSiteSettings(site_id="demo", temporary_entry="guard", passback="off",
                                min_confidence=0.85, over_spaces="temporary"),
            Lane(site_id="demo", edge_id=edge.id, name="gate-in", label="东门入口",
                 direction="entry", push_format="vzenith", camera_user="camera",
                 camera_secret_sha256=DIGEST, barrier={"kind": "camera_relay"}),
        ])


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def building(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Building]:
    tmp = tmp_path_factory.mktemp("lanes")
    lanes = [{"id": "gate-in", "direction": "entry", "camera_secret_sha256": DIGEST}]
    async with broker("mosquitto") as mqtt_port, demo_building(
        tmp, mqtt_port=mqtt_port, database_url=f"sqlite+aiosqlite:///{tmp / 'hub.db'}",
        publish_debounce_s=0.05, prepare=_registry, rules_check_interval_s=0.2,
        ready=lambda agent: len(agent.vehicles.decider.cache) == 2,
        edge_settings={"lanes": lanes, "lanes_host": "127.0.0.1", "lanes_port": free_port()},
    ) as b:
        yield b


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    assert shutil.which(CHROMIUM), f"{CHROMIUM} is missing: `make system-deps` installs chromium"
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                            args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


async def push(b: Building, plate: str) -> bool:
    url = f"http://127.0.0.1:{b.agent.config.lanes_port}/lpr/gate-in"
    got = await asyncio.to_thread(push_plate, url, plate, secret=SECRET, confidence=0.95)
    assert got.status == 200, got
    return got.opened


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_guard_watches_the_lane_and_opens_for_a_held_car(
        building: Building, browser: Browser, lang: str) -> None:
    words = WORDS[lang]
    ctx: BrowserContext = await browser.new_context(
        locale="zh-CN" if lang == "zh" else "en-US", viewport={"width": 1366, "height": 860})
    ctx.set_default_timeout(10_000)
    try:
        page = await logged_in(ctx, building, "guard1")
        await page.goto(f"{building.hub.url}/guard/lanes")
        await expect(page.locator("#live")).to_have_class(re.compile(r"\bon\b"))
        card = page.get_by_test_id("lane-gate-in")
        await expect(card).to_contain_text("东门入口")

        assert await push(building, "粤B12345")  # the resident
        await expect(card.get_by_test_id("plate")).to_have_text("粤B12345")
        await expect(card).to_contain_text(words["opened"])

        assert not await push(building, "粤B99999")  # blocked: refused, the guard alarmed
        await expect(card).to_contain_text(words["refused"])
        await expect(page.get_by_test_id("lane-alarms")).to_contain_text(words["blocked"])
        await expect(page.get_by_test_id("lane-alarms")).to_contain_text("粤B99999")

        plate = "粤A1234" + ("5" if lang == "zh" else "6")  # unknown: held for the guard
        assert not await push(building, plate)
        await expect(card.get_by_test_id("plate")).to_have_text(plate)
        await expect(card).to_contain_text(words["held"])
        await page.get_by_test_id("open-gate-in").click()
        await page.fill("#reason-dialog textarea", "送货车 delivery van")
        await page.click("#reason-dialog button[value=ok]")
        await expect(page.locator("#toasts")).to_contain_text(words["sent"])
        await screenshot(page, f"lane-panel-{lang}")
        # the command log keeps who opened which lane and why; the camera's next push of
        # the held car is answered open
        commands = (await building.call("GET", "/commands?limit=5"))["items"]
        assert (commands[0]["command"], commands[0]["door"], commands[0]["reason"],
                commands[0]["issued_by"]) == ("lane_open", "gate-in", "送货车 delivery van",
                                              "guard1")
        deadline = asyncio.get_running_loop().time() + 10
        while "gate-in" not in building.agent.vehicles._guard_opens:
            assert asyncio.get_running_loop().time() < deadline, "the edge never took the open"
            await asyncio.sleep(0.05)
        assert await push(building, plate)
        await expect(card).to_contain_text(words["opened"])

        # the held car was really the resident's, misread: the guard corrects it (logged)
        row = page.get_by_test_id("lane-recent").locator("tr").filter(has_text=plate).last
        await row.get_by_test_id("correct").click()
        await page.fill("#reason-dialog textarea", "粤B12345")
        await page.click("#reason-dialog button[value=ok]")
        await page.fill("#reason-dialog textarea", "看抓拍 photo shows B12345")
        await page.click("#reason-dialog button[value=ok]")
        await expect(row.get_by_test_id("corrected")).to_have_text(words["corrected"])
        assert page.js_errors == []  # type: ignore[attr-defined]
    finally:
        await ctx.close()
