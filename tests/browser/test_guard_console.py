"""The guard's day at a 1920×1080 control-room screen, in Debian's Chromium, in Chinese and
English (issue 16): door states on the building panel (a lockdown and a fire release shown),
a critical alarm that really plays a tone and flashes the title (with a remembered mute), the
alarm history, the access log searched, filtered, paged and exported, a printed visitor slip,
and a sign-in throttled with a message that stays."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from edge.sensors.loader import load_models
from edge.sensors.models import SerialSettings
from hub.cameras.models import CameraAlert
from hub.console.i18n import translate
from hub.models import EventLog
from hub.texts import render as render_text
from simulators.modbus_devices import ModbusDeviceSimulator
from simulators.osdp_door import OsdpDoorSimulator
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, _users, logged_in, screenshot
from tests.support.building import Building, broker, demo_building

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

SCREEN = {"width": 1920, "height": 1080}
# Counts the WebAudio oscillators the page starts: proof that it plays, not just that it
# means to (headless Chromium has no speaker, but the audio graph runs).
TONE_HOOK = """
(() => {
  window.__tones = 0;
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) { window.__tones += 1; return start.apply(this, args); };
  window.__printed = 0;
  window.print = () => { window.__printed += 1; };
})();
"""


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def fire_panel() -> AsyncIterator[ModbusDeviceSimulator]:
    model = load_models()["fire-panel-8z"]
    async with ModbusDeviceSimulator(model, name="fire-1", transport="rtu",
                                     serial=SerialSettings(baudrate=9600, parity="N")) as sim:
        yield sim


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def building(tmp_path_factory: pytest.TempPathFactory,
                   fire_panel: ModbusDeviceSimulator) -> AsyncIterator[Building]:
    """The demo building with its fire panel; the garage door is a fail-safe egress door."""
    tmp = tmp_path_factory.mktemp("guard")
    panel = {"id": "fire-1", "model": "fire-panel-8z", "transport": "rtu",
             "port": fire_panel.port, "serial": {"parity": "N"}, "poll_interval_s": 0.1,
             "offline_after": 3, "timeout_s": 0.3}
    async with broker("mosquitto") as mqtt_port, demo_building(
        tmp, mqtt_port=mqtt_port, database_url=f"sqlite+aiosqlite:///{tmp / 'hub.db'}",
        doors=(("B1-main", 101), ("B1-garage", 102)), unlock_s=0.5, fail_safe=("B1-garage",),
        publish_debounce_s=0.05, prepare=_users, devices=[panel], rules_check_interval_s=0.2,
        ready=lambda agent: bool(agent.cache.state and agent.cache.state.hub_public_key),
    ) as b:
        yield b


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    assert shutil.which(CHROMIUM), f"{CHROMIUM} is missing: `make system-deps` installs chromium"
    async with async_playwright() as pw:
        # the control room's screen is set up once to play sound without a click first
        chromium = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"])
        yield chromium
        await chromium.close()


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(locale="zh-CN", viewport=SCREEN)
    ctx.set_default_timeout(10_000)
    await ctx.add_init_script(TONE_HOOK)
    yield ctx
    await ctx.close()


def console_errors(page: Page) -> list[str]:
    """Every error the page's console reports (an invalid `pattern` is one)."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


async def door(page: Page, name: str) -> Any:
    return page.locator(f'#buildings li[data-door="{name}"]')


async def command(page: Page, test_id: str, reason: str) -> None:
    await page.get_by_test_id(test_id).click()
    await page.fill("#reason-dialog textarea", reason)
    await page.click("#reason-dialog button[value=ok]")


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_door_states_lockdown_fire_and_the_alarm_signal(
        building: Building, context: BrowserContext, fire_panel: ModbusDeviceSimulator,
        lang: str) -> None:
    """The guard's shift on the building panel, in Chinese and in English."""
    def t(key: str, **values: object) -> str:
        return translate(lang, key, **values)

    if lang == "en":
        await context.add_cookies([{"name": "lintel_lang", "value": "en", "url": building.hub.url}])
    page = await logged_in(context, building, "guard1")
    errors = console_errors(page)
    try:
        await _a_guards_shift(page, building, fire_panel, lang, t)
    finally:
        await context.clear_cookies(name="lintel_lang")
    assert errors == [], errors


async def swipe_until_open(sim: OsdpDoorSimulator, card: str, timeout: float = 90.0) -> None:
    """Swipe until the door opens: a loaded machine can break the reader's secure channel
    (libosdp: "Invalid MAC", offline until the edge restarts the reader) and a swipe then is
    lost, as at a real door, where the resident swipes again."""
    async with asyncio.timeout(timeout):
        while True:
            while not sim.online:
                await asyncio.sleep(0.1)
            sim.present_card(card)
            if await asyncio.to_thread(sim.wait_relay, True, 5.0) is not None:
                return


async def _a_guards_shift(page: Page, building: Building, fire_panel: ModbusDeviceSimulator,
                          lang: str, t: Any) -> None:
    await page.goto(f"{building.hub.url}/guard")
    await expect(page.locator("#live")).to_have_class(re.compile(r"\bon\b"))
    legend = page.get_by_test_id("door-legend")
    for state in ("normal", "open", "held_open", "forced", "locked_down", "fire_released",
                  "offline"):
        await expect(legend).to_contain_text(t(f"door.{state}"))
    main, garage = await door(page, "B1-main"), await door(page, "B1-garage")
    await expect(main).to_have_attribute("data-state", "normal")
    await expect(main).to_contain_text("1号楼 正门")  # the door's label, as it was typed

    # 张伟's card opens the door: shown open while it stands open, normal once it closes
    sim = building.sims["B1-main"]
    await swipe_until_open(sim, "1001")
    sim.set_door_contact(True)
    try:
        await expect(main).to_have_attribute("data-state", "open")
        await expect(main.get_by_test_id("door-state")).to_have_text(t("door.open"))
    finally:
        sim.set_door_contact(False)
    await expect(main).to_have_attribute("data-state", "normal")

    # the whole building locked down from the panel, each door shown so, then released
    await command(page, "lockdown-b1-edge", "suspicious person in the lobby")
    for d in (main, garage):
        await expect(d).to_have_attribute("data-state", "locked_down")
        await expect(d.get_by_test_id("door-state")).to_have_text(t("door.locked_down"))
    await expect(page.locator('#buildings .building[data-building="B1"]')).to_have_class(
        re.compile(r"\blocked_down\b"))
    await screenshot(page, f"guard-lockdown-{lang}-1920")
    await command(page, "release-b1-edge", "all clear")
    await expect(main).to_have_attribute("data-state", "normal")

    # fire: the edge releases the fail-safe garage door; the critical alarm sounds and flashes
    tones = await page.evaluate("window.__tones")
    fire = render_text("alarm_type.fire_alarm", None, lang)  # 火灾报警 / Fire alarm
    fire_panel.zone(2, "fire")
    try:
        await expect(garage).to_have_attribute("data-state", "fire_released", timeout=15_000)
        await expect(garage.get_by_test_id("door-state")).to_have_text(t("door.fire_released"))
        await expect(main).to_have_attribute("data-state", "normal")  # not a fail-safe door
        alarm = page.locator('#alarm-list li[data-type="fire_alarm"]')
        await expect(alarm).to_contain_text(fire)
        await page.wait_for_function(f"window.__tones > {tones}")  # the tone really started
        await expect(page).to_have_title(re.compile(f"^⚠ {fire}"))
        await screenshot(page, f"guard-fire-{lang}-1920")

        # muted: the next tone is not played; the choice survives a reload
        await page.get_by_test_id("sound-toggle").click()
        await expect(page.get_by_test_id("sound-toggle")).to_have_text(t("guard.sound_off"))
        await page.reload()
        await expect(page.get_by_test_id("sound-toggle")).to_have_text(t("guard.sound_off"))
        await expect(garage).to_have_attribute("data-state", "fire_released")
        await page.get_by_test_id("sound-toggle").click()
        await expect(page.get_by_test_id("sound-toggle")).to_have_text(t("guard.sound_on"))

        # acknowledged: the title stops flashing
        await alarm.get_by_role("button", name=t("alarms.acknowledge")).click()
        await page.fill("#reason-dialog textarea", "fire brigade called")
        await page.click("#reason-dialog button[value=ok]")
        await expect(alarm).to_contain_text(t("alarms.acknowledged_by", who="guard1"))
        await expect(page).to_have_title(re.compile(f"^{t('guard.title')}"))
    finally:
        fire_panel.reset_panel()
    await expect(garage).to_have_attribute("data-state", "normal", timeout=15_000)


async def test_alarm_history_filters_and_pages(building: Building,
                                               context: BrowserContext) -> None:
    page = await logged_in(context, building, "guard1")
    errors = console_errors(page)
    await page.goto(f"{building.hub.url}/guard/alarms")
    rows = page.locator("#alarm-history-rows tr")
    await expect(rows.first).to_have_attribute("data-alarm", re.compile(r"\d+"))
    await page.get_by_test_id("alarm-kind").select_option("fire_alarm")
    await page.get_by_test_id("alarm-state").select_option("cleared")
    await page.get_by_test_id("alarm-apply").click()
    await expect(rows).to_have_count(2)  # the fire of each language's shift above
    await expect(rows.first).to_contain_text("火灾报警")
    await expect(rows.first).to_contain_text("guard1 已确认")
    await expect(rows.first).to_contain_text("已解除")
    await screenshot(page, "guard-alarm-history-zh-1920")
    await page.get_by_test_id("alarm-state").select_option("active")
    await page.get_by_test_id("alarm-apply").click()
    await expect(page.locator("#alarm-history-rows td.empty")).to_be_visible()
    assert errors == [], errors


async def test_access_log_search_filter_page_and_export(building: Building,
                                                        context: BrowserContext) -> None:
    # a visitor's pass used at the main door, 张伟's card, and a stranger's card refused
    now = datetime.now(UTC)
    held = building.agent.cache.hash
    unit = (await building.call("GET", "/units"))["items"][0]["id"]
    issued = await building.call("POST", "/visitor-passes", {
        "visitor_name": "王芳", "visitor_phone": "13900000000", "unit_id": unit,
        "doors": ["B1-main"], "valid_from": now.isoformat(),
        "valid_until": (now + timedelta(hours=2)).isoformat(), "max_uses": 2}, status=201)
    await building.wait_perm_change(held, timeout=15.0)
    main = building.sims["B1-main"]
    main.present_qr(issued["token"])
    for card in ("1001", "4242", "1001"):
        await asyncio.sleep(0.6)  # past the door's pulse
        main.present_card(card)
    async with asyncio.timeout(10):
        while len(await building.events(door="B1-main", since=now.isoformat())) < 4:
            await asyncio.sleep(0.1)

    await context.add_cookies([{"name": "lintel_lang", "value": "en", "url": building.hub.url}])
    try:
        page = await logged_in(context, building, "guard1")
        errors = console_errors(page)
        await page.goto(f"{building.hub.url}/guard/access")
        rows = page.locator("#access-log-rows tr")
        await expect(rows.first).to_have_attribute("data-id", re.compile("."))
        visitor = rows.filter(has_text="王芳")
        await expect(visitor).to_have_count(1)  # the visitor's name, not "pass:N"
        await expect(visitor).to_contain_text("visitor")
        await expect(visitor).to_contain_text("1号楼 正门")  # the door's name, not its code
        await page.get_by_test_id("access-q").fill("张伟")
        await page.get_by_test_id("access-apply").click()
        await expect(rows.filter(has_text="张伟")).to_have_count(
            len(await building.events(q="张伟")))
        await expect(rows.filter(has_text="王芳")).to_have_count(0)
        assert "q=%E5%BC%A0%E4%BC%9F" in page.url  # the selection is in the address
        await page.get_by_test_id("access-q").fill("")
        await page.locator("select[name=result]").select_option("denied")
        await page.get_by_test_id("access-apply").click()
        await expect(rows.filter(has_text="Granted")).to_have_count(0)
        await expect(rows.filter(has_text="unknown card").first).to_be_visible()
        await screenshot(page, "guard-access-log-en-1920")

        href = await page.get_by_test_id("access-export").get_attribute("href")
        assert href is not None and "format=csv" in href and "result=denied" in href
        resp = await page.request.get(f"{building.hub.url}{href}")
        assert resp.status == 200 and resp.headers["content-type"].startswith("text/csv")
        exported = list(csv.DictReader(io.StringIO((await resp.text()).lstrip("\ufeff"))))
        assert exported and {r["Result"] for r in exported} == {"denied"}  # in English
        assert "4242" in {r["Credential"] for r in exported}

        # paging: one event a page, through the cursor, to the end
        await page.goto(f"{building.hub.url}/guard/access?door=B1-main")
        await page.evaluate("""() => { const f = window.fetch; window.fetch = (url, init) =>
            f(String(url).replace("limit=100", "limit=1"), init); }""")
        await page.get_by_test_id("access-apply").click()
        await expect(rows).to_have_count(1)
        await page.get_by_test_id("access-more").click()
        await expect(rows).to_have_count(2)
        assert errors == [], errors
    finally:
        await context.clear_cookies(name="lintel_lang")


async def test_the_desk_prints_a_visitor_slip(building: Building,
                                              context: BrowserContext) -> None:
    page = await logged_in(context, building, "guard1")
    errors = console_errors(page)
    await page.goto(f"{building.hub.url}/guard/passes")
    await page.fill("input[name=visitor_name]", "李雷")
    await page.fill("input[name=visitor_phone]", "+86 139 0000 0000")
    await page.get_by_test_id("pass-building").select_option(index=1)  # a building, its units
    await expect(page.get_by_test_id("pass-unit").locator("option")).not_to_have_count(1)
    await page.get_by_test_id("pass-unit").select_option(index=1)
    await page.locator("#pass-doors input[value=B1-main]").check()
    await page.get_by_test_id("issue-pass").click()
    await expect(page.get_by_test_id("pass-print")).to_be_visible()
    slip = page.get_by_test_id("pass-slip")
    await expect(slip).to_be_hidden()  # on screen, the slip is for paper only
    await page.get_by_test_id("pass-print").click()
    assert await page.evaluate("window.__printed") == 1
    await page.emulate_media(media="print")
    try:
        await expect(slip).to_be_visible()
        await expect(slip).to_contain_text("李雷")
        await expect(slip).to_contain_text("1号楼 正门")
        await expect(page.locator("header.topbar")).to_be_hidden()
        await expect(page.locator("#pass-form-card")).to_be_hidden()
        await expect(page.get_by_test_id("pass-qr")).to_be_visible()
        await screenshot(page, "guard-visitor-slip-print")
    finally:
        await page.emulate_media(media="screen")
    # the phone field's pattern compiles (it threw "Invalid regular expression" before)
    assert await page.evaluate(
        "() => document.querySelector('input[name=visitor_phone]').checkValidity !== undefined")
    await page.fill("input[name=visitor_phone]", "phone?")
    assert not await page.evaluate(
        "() => document.querySelector('input[name=visitor_phone]').checkValidity()")
    # the list is searched and filtered by the API, newest first
    rows = page.locator("#pass-rows tr[data-pass]")
    await page.get_by_test_id("pass-search").fill("李雷")
    await expect(rows.first).to_contain_text("李雷")
    await expect(rows.filter(has_not_text="李雷")).to_have_count(0)
    await page.get_by_test_id("pass-search").fill("没有这位访客")
    await expect(rows).to_have_count(0)
    await expect(page.locator("#pass-rows")).to_contain_text("无")
    await page.get_by_test_id("pass-search").fill("")
    await page.get_by_test_id("pass-state").select_option("revoked")
    await expect(rows.filter(has_text="李雷")).to_have_count(0)  # it is in force
    await page.get_by_test_id("pass-state").select_option("in_force")
    await expect(rows.filter(has_text="李雷").first).to_be_visible()
    assert errors == [], errors


async def test_a_sixth_wrong_sign_in_says_so_and_the_message_stays(
        building: Building, context: BrowserContext) -> None:
    page = await context.new_page()
    await page.goto(f"{building.hub.url}/login")
    error = page.get_by_test_id("login-error")
    for _ in range(5):
        await page.fill("input[name=username]", "intruder")
        await page.fill("input[name=password]", "guess")
        await page.click("button[type=submit]")
        await expect(error).to_have_text("用户名或密码错误。")
    await page.click("button[type=submit]")
    await expect(error).to_contain_text("登录失败次数过多")
    await page.wait_for_timeout(5000)  # a toast would be gone by now
    await expect(error).to_be_visible()
    await expect(error).to_contain_text(re.compile(r"请 \d+ 秒后再试"))
    await expect(page.locator("button[type=submit]")).to_be_disabled()
    await screenshot(page, "login-throttled-zh")


async def test_camera_alerts_are_grouped_per_camera(building: Building,
                                                    context: BrowserContext) -> None:
    """A dozen motion alerts of one camera make one tile that counts them, not a dozen."""
    now = datetime.now(UTC)
    async with building.hub.sessions() as session, session.begin():  # as the ingest stores them
        for i in range(12):
            event_id = str(uuid.uuid4())
            session.add(EventLog(id=event_id, kind="camera", site_id="demo", edge="b1-edge",
                                 device="cam-gate", seq=2 * 10**6 + i,
                                 ts=now - timedelta(seconds=i), data={}))
            await session.flush()
            session.add(CameraAlert(id=event_id, site_id="demo", edge="b1-edge",
                                    camera="cam-gate", event="motion", zone="gate", area=0.2,
                                    ts=now - timedelta(seconds=i)))
    page = await logged_in(context, building, "guard1")
    await page.goto(f"{building.hub.url}/guard")
    tiles = page.locator('#camera-list [data-camera="cam-gate"]')
    await expect(tiles).to_have_count(1)
    await expect(tiles).to_contain_text("12 次告警")
    await expect(tiles).to_contain_text("区域 gate")

