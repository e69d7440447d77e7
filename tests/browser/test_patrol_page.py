"""The guard's patrol page on a phone (390x844), in Chinese and in English, against the hub on
Mosquitto and SQLite: a round started on demand, each checkpoint's code entered and signed in
the browser with the phone's own key (WebCrypto Ed25519), readings made offline kept in the
page (IndexedDB) with their flags and sent when the network is back, the page reopened with no
network; a scheduled round waiting, taken late (its checkpoints late), a mistyped code
refused, a queue that outlives a reload; the supervisor's live rounds, report and CSV."""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from playwright.async_api import Browser, BrowserContext, Page, WebSocketRoute, expect
from playwright.async_api import Route as PlaywrightRoute
from sqlalchemy import select

from hub.api import create_user
from hub.models import Site
from hub.patrol.models import Checkpoint, Reading, Round, Route
from hub.patrol.registry import Stop, add_checkpoint, add_route
from hub.service import Hub
from hub.settings import HubSettings
from tests.browser.conftest import PASSWORD, screenshot
from tests.support.building import ADMIN_PASSWORD, broker
from tests.support.services import free_port
from wire.patrol import display_code, reading_bytes, step_of

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]
SITE = "demo"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def hub(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hub]:
    """The hub alone (no edge: the phone talks to the API), with a route of three displays."""
    tmp = tmp_path_factory.mktemp("patrol")
    async with broker("mosquitto") as mqtt_port:
        settings = HubSettings(
            database_url=f"sqlite+aiosqlite:///{tmp / 'hub.db'}", mqtt_host="127.0.0.1",
            mqtt_port=mqtt_port, mqtt_username="hub", mqtt_client_id=f"hub-{secrets.token_hex(3)}",
            http_host="127.0.0.1", http_port=free_port(), admin_username="admin",
            admin_password=ADMIN_PASSWORD, data_dir=tmp / "hub",
            rules_check_interval_s=0.2)  # the patrol sweep's too
        async with Hub(settings) as running:
            async with running.sessions() as session, session.begin():
                session.add(Site(id=SITE, name="Demo", timezone="Asia/Shanghai"))
                await session.flush()
                for guard in ("wang", "zhao"):
                    await create_user(session, guard, PASSWORD, "guard", SITE)
                await create_user(session, "lee", PASSWORD, "manager", SITE)
                for n, (name, name_zh) in enumerate(
                        [("North gate", "北门岗亭"), ("Car park", "地库坡道"),
                         ("Garden", "花园凉亭")], 1):
                    await add_checkpoint(session, SITE, f"CP{n}", name, name_zh=name_zh)
                await add_route(session, SITE, "walk", "Evening walk", [
                    Stop(f"CP{n}", 600) for n in (1, 2, 3)], name_zh="晚间巡逻")
            yield running


# A phone camera that sees the QR code the test puts in window.qr, through the page's use of
# the browser's barcode detector (Chromium on Linux has none, and no camera here)
CAMERA = """
window.BarcodeDetector = class { async detect() { return window.qr ? [{rawValue: window.qr}] : []; } };
navigator.mediaDevices.getUserMedia = async () => {
  const canvas = Object.assign(document.createElement("canvas"), {width: 64, height: 48});
  canvas.getContext("2d").fillRect(0, 0, 64, 48);
  return canvas.captureStream(5);
};
"""


async def _phone(browser: Browser, hub: Hub, guard: str, locale: str,
                 path: str = "/guard/patrol", init: str | None = None,
                 prepare: Callable[[Page], Awaitable[None]] | None = None
                 ) -> tuple[BrowserContext, Page]:
    phone = path.startswith("/guard")
    ctx = await browser.new_context(
        locale=locale, viewport={"width": 390, "height": 844} if phone else
        {"width": 1366, "height": 860}, has_touch=phone, is_mobile=phone)
    ctx.set_default_timeout(10_000)
    resp = await ctx.request.post(f"{hub.url}/api/v1/auth/login",
                                  data={"username": guard, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    if init is not None:
        await ctx.add_init_script(init)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
            and "missing message" in msg.text else None)
    page.js_errors = errors  # type: ignore[attr-defined]
    if prepare is not None:
        await prepare(page)
    await page.goto(f"{hub.url}{path}")
    return ctx, page


async def _secret(hub: Hub, code: str) -> str:
    async with hub.sessions() as session:
        secret = await session.scalar(select(Checkpoint.secret).where(Checkpoint.code == code))
    assert secret is not None
    return secret


async def _read(page: Page, hub: Hub, checkpoint: str, code: str | None = None) -> None:
    """The guard picks the checkpoint and types what its display shows now."""
    shown = display_code(await _secret(hub, checkpoint), SITE, checkpoint,
                         step_of(datetime.now(UTC)))
    await page.get_by_test_id("patrol-checkpoint").select_option(checkpoint)
    await page.get_by_test_id("patrol-code").fill(code or shown)
    await page.get_by_test_id("patrol-record").click()


async def _readings(hub: Hub, guard: str) -> list[tuple[str, bool, bool]]:
    async with hub.sessions() as session:
        rows = await session.execute(
            select(Checkpoint.code, Reading.late, Reading.out_of_order)
            .join(Reading, Reading.checkpoint_id == Checkpoint.id)
            .where(Reading.guard == guard).order_by(Reading.ts))
        return [(code, late, disorder) for code, late, disorder in rows]


async def test_an_offline_round_is_kept_on_the_phone_and_synced_later_zh(
        hub: Hub, browser: Browser) -> None:
    ctx, page = await _phone(browser, hub, "wang", "zh-CN", init=CAMERA)
    try:
        await expect(page.get_by_test_id("patrol-net")).to_have_text("在线")
        await page.get_by_test_id("patrol-start-walk").click()
        await expect(page.get_by_test_id("patrol-next")).to_contain_text("CP1 · 北门岗亭")
        await page.evaluate("navigator.serviceWorker.ready")  # the page kept for offline
        # CP1 by the camera: the display's QR code holds its code and the code now
        shown = display_code(await _secret(hub, "CP1"), SITE, "CP1", step_of(datetime.now(UTC)))
        await page.evaluate(f"window.qr = 'CP1 {shown}'")
        await page.get_by_test_id("patrol-scan").click()
        await expect(page.locator("#toasts")).to_contain_text("已记录 CP1")
        await expect(page.get_by_test_id("patrol-next")).to_contain_text("CP2 · 地库坡道")

        # the network goes: CP3 then CP2 are signed and kept, flagged as the hub will
        await ctx.set_offline(True)
        await expect(page.get_by_test_id("patrol-net")).to_have_text("离线：记录已保存")
        await _read(page, hub, "CP3")
        await expect(page.locator("#toasts")).to_contain_text("已保存 CP3，联网后自动发送")
        await _read(page, hub, "CP2")
        cp2 = page.locator("[data-testid=patrol-stops] li[data-checkpoint=CP2]")
        await expect(cp2).to_contain_text("顺序错误")
        await expect(cp2).to_contain_text("待发送")
        await expect(page.get_by_test_id("patrol-queue")).to_contain_text("2 条记录保存在手机上")
        await expect(page.get_by_test_id("patrol-progress")).to_have_text("3/3")
        assert [r[0] for r in await _readings(hub, "wang")] == ["CP1"]
        # the page opened again with no network: its kept copy, the round and the queue
        await page.reload()
        await expect(page.get_by_test_id("patrol-net")).to_have_text("离线：记录已保存")
        await expect(page.get_by_test_id("patrol-queue")).to_contain_text("2 条记录保存在手机上")
        await expect(cp2).to_contain_text("顺序错误")
        await expect(page.locator("[data-testid=patrol-stops] li[data-checkpoint=CP1]")
                     ).to_have_class("read")
        await screenshot(page, "patrol-offline-queue-phone-zh")

        await ctx.set_offline(False)  # back: the queue goes by itself
        await expect(page.get_by_test_id("patrol-queue")).to_have_text("记录已全部发送。")
        await expect(page.get_by_test_id("patrol-round")).to_contain_text("已完成")
        await expect(page.get_by_test_id("patrol-code")).to_be_hidden()
        await expect(cp2).to_contain_text("顺序错误")
        assert await _readings(hub, "wang") == [
            ("CP1", False, False), ("CP3", False, False), ("CP2", False, True)]
        async with hub.sessions() as session:
            state = await session.scalar(select(Round.state).where(Round.guard == "wang"))
        assert state == "completed"
        assert page.js_errors == []  # type: ignore[attr-defined]
    finally:
        await ctx.close()


async def test_a_scheduled_round_taken_late_a_refused_code_and_a_reload_en(
        hub: Hub, browser: Browser) -> None:
    async with hub.sessions() as session, session.begin():  # a scheduled round, 25 min old
        route = await session.scalar(select(Route).where(Route.code == "walk"))
        assert route is not None
        began = datetime.now(UTC) - timedelta(minutes=25)
        session.add(Round(site_id=SITE, route_id=route.id, guard=None, started_at=began,
                          scheduled_for=began, deadline=began + timedelta(minutes=30),
                          state="open"))
    ctx, page = await _phone(browser, hub, "zhao", "en-US")
    try:
        await expect(page.locator("#patrol-routes")).to_contain_text(
            "a scheduled round waits since")
        await page.get_by_test_id("patrol-start-walk").click()  # zhao takes it
        next_stop = page.get_by_test_id("patrol-next")
        await expect(next_stop).to_contain_text("CP1 · North gate")
        await expect(next_stop).to_contain_text("overdue since")
        await _read(page, hub, "CP1", code="000000")  # mistyped
        await expect(page.locator("#toasts")).to_contain_text(
            "CP1 refused: The code is not the one the checkpoint's display showed at that time.")
        cp1 = page.locator("[data-testid=patrol-stops] li[data-checkpoint=CP1]")
        await expect(cp1).to_contain_text("refused")
        await _read(page, hub, "CP1")
        # the hub's answer: the page flags a queued reading "late" itself before it is sent,
        # and a send still on its way when the route below cuts the hub off stays queued too
        await expect(cp1).to_have_class("read")
        await expect(page.get_by_test_id("patrol-queue")).to_have_text("Every reading is sent.")
        await expect(cp1).to_contain_text("late")
        await expect(cp1).not_to_contain_text("refused")

        # the hub cannot be reached (the phone thinks it is online): the reading stays queued,
        # in IndexedDB, and a reload sends it
        await page.route("**/readings", lambda route: route.abort())
        await _read(page, hub, "CP2")
        # the send was tried and failed (the queue's count shows before it is tried)
        await expect(page.locator("#toasts")).to_contain_text(
            "CP2 kept; it is sent when the network is back")
        await expect(page.get_by_test_id("patrol-queue")).to_contain_text(
            "1 reading(s) kept on this phone")
        await page.unroute("**/readings")
        await page.reload()
        await expect(page.get_by_test_id("patrol-queue")).to_have_text("Every reading is sent.")
        await expect(page.get_by_test_id("patrol-progress")).to_have_text("2 of 3")
        await expect(next_stop).to_contain_text("CP3 · Garden")
        await expect(next_stop).not_to_contain_text("null")
        await screenshot(page, "patrol-round-late-phone-en")
        assert await _readings(hub, "zhao") == [("CP1", True, False), ("CP2", True, False)]
        assert page.js_errors == []  # type: ignore[attr-defined]
    finally:
        await ctx.close()



async def test_the_supervisor_sees_rounds_live_and_the_report_en(hub: Hub, browser: Browser) -> None:
    """After the two rounds above: zhao's in progress (2 of 3), wang's completed; zhao's last
    checkpoint arrives and the page moves the round live; a round past its deadline with
    nothing read is closed by the sweep, its exceptions (and zhao's stop before CP1) in the
    report and its CSV."""
    ctx, page = await _phone(browser, hub, "lee", "en-US", "/manage/patrol")
    try:
        await expect(page.locator("#live")).to_have_class(re.compile(r"\bon\b"))
        zhao_round = page.locator("[data-testid=open-rounds] [data-round]")
        await expect(zhao_round).to_contain_text("zhao")
        await expect(zhao_round).to_contain_text("2 of 3 checkpoints")
        await expect(zhao_round).to_contain_text("2 late")
        await expect(page.get_by_test_id("recent-rounds")).to_contain_text("completed")
        await expect(page.get_by_test_id("patrol-by-route")).to_contain_text("100% (1/1)")
        await expect(page.get_by_test_id("patrol-by-guard")).to_contain_text("wang")

        # zhao's other phone (a key of its own) reads CP3: the round completes, pushed live
        round_id = int(await zhao_round.get_attribute("data-round") or 0)
        await _signed_reading(hub, "zhao", round_id, "CP3")
        await expect(page.get_by_test_id("open-rounds")).to_have_text("Nothing here yet.")
        finished = page.locator(f"[data-testid=recent-rounds] tr[data-round='{round_id}']")
        await expect(finished).to_contain_text("3/3")

        # a scheduled round nobody walked: the sweep closes it at its deadline, missed x3
        async with hub.sessions() as session, session.begin():
            route = await session.scalar(select(Route).where(Route.code == "walk"))
            assert route is not None
            began = datetime.now(UTC) - timedelta(minutes=40)
            session.add(Round(site_id=SITE, route_id=route.id, guard=None, started_at=began,
                              scheduled_for=began, deadline=began + timedelta(minutes=30),
                              state="open"))
        await expect(page.get_by_test_id("recent-rounds")).to_contain_text("incomplete")
        await page.reload()
        await expect(page.get_by_test_id("patrol-exception-rows")).to_contain_text(
            "CP1 · North gate")
        rows = page.get_by_test_id("patrol-exception-rows").locator("tr")
        await expect(rows).to_have_count(4)  # and zhao's late start: stopped before CP1
        await expect(rows.filter(has_text="guard stopped")).to_contain_text("zhao")
        await expect(page.get_by_test_id("patrol-by-route")).to_contain_text("67% (2/3)")
        await screenshot(page, "patrol-supervisor-en")
        csv = await ctx.request.get(f"{hub.url}/api/v1/patrol/exceptions?format=csv")
        lines = (await csv.text()).splitlines()
        assert lines[0].startswith("at,round,route,guard,kind,checkpoint")
        assert sorted(line.split(",")[4:6] for line in lines[1:]) == [
            ["missed", "CP1"], ["missed", "CP2"], ["missed", "CP3"], ["stalled", "CP1"]]
        assert page.js_errors == []  # type: ignore[attr-defined]
    finally:
        await ctx.close()


async def _login(http: aiohttp.ClientSession, user: str) -> dict[str, str]:
    async with http.post("auth/login", json={"username": user, "password": PASSWORD}) as r:
        return {"Authorization": f"Bearer {(await r.json())['token']}"}


async def _signed_reading(hub: Hub, guard: str, round_id: int, checkpoint: str) -> None:
    """The guard's other phone (a key of its own, enrolled now) records `checkpoint`."""
    async with aiohttp.ClientSession(f"{hub.url}/api/v1/") as http:
        token = await _login(http, guard)
        key = Ed25519PrivateKey.generate()
        raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        async with http.post("patrol/keys", headers=token,
                             json={"public_key": base64.b64encode(raw).decode()}) as r:
            assert r.status == 201, await r.text()
        now, reading_id = datetime.now(UTC), str(uuid.uuid4())
        code = display_code(await _secret(hub, checkpoint), SITE, checkpoint, step_of(now))
        signature = key.sign(reading_bytes(SITE, round_id, checkpoint, code, now, reading_id))
        async with http.post(f"patrol/rounds/{round_id}/readings", headers=token, json={
                "readings": [{"id": reading_id, "checkpoint": checkpoint, "ts": now.isoformat(),
                              "code": code, "signature": base64.b64encode(signature).decode()}]
        }) as r:
            assert r.status == 200, await r.text()


async def test_a_reading_made_while_another_is_being_sent_goes_next_en(
        hub: Hub, browser: Browser) -> None:
    """CP2 read while CP1's send is still on its way (a slow network): it goes as soon as CP1
    is answered, not at the page's next timer, and is never called kept for want of a network.
    Last in this module: the supervisor's counts above do not include this round."""
    ctx, page = await _phone(browser, hub, "wang", "en-US")
    try:
        await page.get_by_test_id("patrol-start-walk").click()
        await expect(page.get_by_test_id("patrol-next")).to_contain_text("CP1 · North gate")
        arrived, release = asyncio.Event(), asyncio.Event()

        async def slow_first(route: PlaywrightRoute) -> None:
            if not arrived.is_set():
                arrived.set()
                await release.wait()
            await route.continue_()

        await page.route("**/readings", slow_first)
        await _read(page, hub, "CP1")
        await asyncio.wait_for(arrived.wait(), 10)
        await _read(page, hub, "CP2")
        await expect(page.get_by_test_id("patrol-queue")).to_contain_text("2 reading(s)")
        release.set()
        await expect(page.locator("#toasts")).to_contain_text("CP2 recorded")
        await expect(page.get_by_test_id("patrol-queue")).to_have_text("Every reading is sent.")
        await expect(page.locator("#toasts")).not_to_contain_text("CP2 kept")
        assert (await _readings(hub, "wang"))[-2:] == [("CP1", False, False), ("CP2", False, False)]
        assert page.js_errors == []  # type: ignore[attr-defined]
    finally:
        await ctx.close()


# the supervisor's page reloads every 30 s whatever the feed says: not in this test, so only
# the live feed (or a load made after it opened) can show what happened
NO_TIMED_RELOAD = """
const every = window.setInterval;
window.setInterval = (fn, ms, ...args) => (ms >= 30000 ? 0 : every(fn, ms, ...args));
"""


async def test_a_round_started_as_the_supervisor_page_opens_shows_at_once_en(
        hub: Hub, browser: Browser) -> None:
    """A round started while the page's live feed is still connecting (after any list the page
    loaded before it) is on the page once the feed is open, with no timed reload."""
    asked, answered, started = asyncio.Event(), asyncio.Event(), asyncio.Event()
    round_ids: list[int] = []

    async def start_round() -> None:
        async with aiohttp.ClientSession(f"{hub.url}/api/v1/") as http:
            token = await _login(http, "zhao")
            async with http.post("patrol/rounds", headers=token,
                                 json={"site_id": SITE, "route": "walk"}) as r:
                assert r.status == 201, await r.text()
                round_ids.append((await r.json())["id"])

    async def feed(ws: WebSocketRoute) -> None:
        if not started.is_set():
            started.set()
            if asked.is_set():  # a page that loads its rounds before its feed: after that load
                async with asyncio.timeout(30):
                    await answered.wait()
            await start_round()
        ws.connect_to_server()

    async def prepare(page: Page) -> None:
        def is_rounds(url: str) -> bool:
            return "/api/v1/patrol/rounds?" in url
        page.on("request", lambda r: asked.set() if is_rounds(r.url) else None)
        page.on("response", lambda r: answered.set() if is_rounds(r.url) else None)
        await page.route_web_socket(re.compile(r".*/api/v1/live\?.*"), feed)

    ctx, page = await _phone(browser, hub, "lee", "en-US", "/manage/patrol",
                             init=NO_TIMED_RELOAD, prepare=prepare)
    try:
        await expect(page.locator("#live")).to_have_class(re.compile(r"\bon\b"), timeout=30_000)
        assert round_ids, "the feed was never asked for"
        started_round = page.locator(f"[data-testid=open-rounds] [data-round='{round_ids[0]}']")
        await expect(started_round).to_contain_text("zhao", timeout=20_000)
        await expect(started_round).to_contain_text("0 of 3 checkpoints")
        assert page.js_errors == []  # type: ignore[attr-defined]
    finally:
        await ctx.close()
