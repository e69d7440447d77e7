"""The web console in a real browser (Debian's Chromium through Playwright) against the hub,
the edge agent and simulated OSDP doors: what guards, managers, technicians and residents do."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
from playwright.async_api import Browser, BrowserContext, expect

from hub.cameras.models import CameraAlert, Snapshot
from hub.models import EventLog
from simulators.modbus_devices import ModbusDeviceSimulator
from tests.browser.conftest import PASSWORD, logged_in, screenshot
from tests.support.building import Building

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


async def test_login_wrong_password_then_logout(building: Building, context: BrowserContext) -> None:
    page = await context.new_page()
    await page.goto(f"{building.hub.url}/guard")
    await expect(page).to_have_url(re.compile(r"/login\?next=(%2F|/)guard$"))
    await screenshot(page, "login")
    await page.fill("input[name=username]", "guard1")
    await page.fill("input[name=password]", "not the password")
    await page.click("button[type=submit]")
    await expect(page.locator("#login-error")).to_be_visible()
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(r"/guard$"))  # back where the guard was going
    await expect(page.get_by_test_id("who")).to_contain_text("guard1")

    await page.get_by_test_id("logout").click()
    await page.wait_for_url(re.compile(r"/login\?bye=1$"))
    assert not [c for c in await context.cookies() if c["name"] == "lintel_session"]
    await page.goto(f"{building.hub.url}/guard")
    await expect(page).to_have_url(re.compile(r"/login\?next="))


async def test_guard_sees_swipes_live_and_opens_a_door(building: Building,
                                                       context: BrowserContext) -> None:
    page = await logged_in(context, building, "guard1")
    await page.goto(f"{building.hub.url}/guard")
    await expect(page.locator("#live")).to_have_class(re.compile(r"\bon\b"))
    await page.evaluate("window.sameDocument = true")  # gone if the page reloads

    building.sims["B1-main"].present_card("1001")
    first = page.locator("#access-rows tr").first
    await expect(first).to_contain_text("1号楼 正门")  # the door's name, not its code
    await expect(first).to_contain_text("张伟")
    await expect(first).to_contain_text("允许")
    building.sims["B1-main"].present_card("9999")
    await expect(first).to_contain_text("未登记的卡")  # unknown_card
    assert await page.evaluate("window.sameDocument") is True

    await page.get_by_test_id("open-B1-main").click()
    await page.fill("#reason-dialog textarea", "courier at the gate")
    await page.click("#reason-dialog button[value=ok]")
    assert await asyncio.to_thread(building.sims["B1-main"].wait_relay, True, 15) is not None
    await expect(page.locator("#command-rows")).to_contain_text("courier at the gate")
    logged = await building.call("GET", "/commands")
    assert [(c["command"], c["door"], c["issued_by"], c["reason"]) for c in logged["items"]] == [
        ("unlock", "B1-main", "guard1", "courier at the gate")]
    await screenshot(page, "guard-console")
    assert page.js_errors == []  # type: ignore[attr-defined]


async def test_guard_sees_a_cut_credential_marked_live_and_after_a_reload(
        building: Building, context: BrowserContext) -> None:
    """Issue 14: a 140-digit read reaches the log cut to 128; the guard must see that it
    was cut (pushed live, then from the API after a reload, in both languages)."""
    page = await logged_in(context, building, "guard1")
    await page.goto(f"{building.hub.url}/guard")
    await expect(page.locator("#live")).to_have_class(re.compile(r"\bon\b"))
    card = "1234567890" * 14
    building.sims["B1-main"].present_card(card)
    row = page.locator("#access-rows tr").filter(has_text=card[:128])
    mark = row.get_by_test_id("malformed")
    await expect(mark).to_have_text("凭证异常")
    await expect(mark).to_have_attribute("title", re.compile(r"140 characters cut to 128"))
    await expect(page.locator("#access-rows").get_by_test_id("malformed")).to_have_count(1)
    await context.add_cookies([{"name": "lintel_lang", "value": "en", "url": building.hub.url}])
    await page.reload()
    await expect(mark).to_have_text("Malformed credential")
    await expect(mark).to_have_attribute("title", re.compile(r"140 characters cut to 128"))
    await expect(page.locator("#access-rows").get_by_test_id("malformed")).to_have_count(1)
    await screenshot(page, "guard-malformed-credential")
    assert page.js_errors == []  # type: ignore[attr-defined]


async def test_guard_acknowledges_the_alarm_of_a_forced_door(building: Building,
                                                            context: BrowserContext) -> None:
    page = await logged_in(context, building, "guard1")
    await page.goto(f"{building.hub.url}/guard")
    await expect(page.locator("#live")).to_have_class(re.compile(r"\bon\b"))
    door = building.sims["B1-garage"]
    assert await asyncio.to_thread(door.wait_relay, False, 10.0) is not None
    door.set_door_contact(True)  # opened with no grant: forced
    try:
        alarm = page.locator('#alarm-list li[data-type="door_forced_open"]')
        await expect(alarm).to_contain_text("门被强行打开")  # pushed live, no reload
        await expect(alarm).to_contain_text("未处理")
        await alarm.get_by_role("button", name="确认").click()
        await page.fill("#reason-dialog textarea", "checked on camera: wind")
        await page.click("#reason-dialog button[value=ok]")
        await expect(alarm).to_contain_text("guard1 已确认")
        await screenshot(page, "guard-alarm-acknowledged")
        alarms = await building.call("GET", "/alarms?type=door_forced_open")
        assert [(a["state"], a["acknowledged_by"], a["door"]) for a in alarms["items"]] == [
            ("acknowledged", "guard1", "B1-garage")]
        await alarm.get_by_role("button", name="解除").click()
        await page.click("#reason-dialog button[value=ok]")  # the note is optional
        await expect(alarm).to_have_count(0)
    finally:
        door.set_door_contact(False)


async def test_guard_sees_camera_alerts_with_their_snapshot(building: Building,
                                                            context: BrowserContext) -> None:
    frame = np.zeros((240, 320, 3), np.uint8)
    cv2.putText(frame, "lobby", (60, 130), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
    jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
    now = datetime.now(UTC)
    event_id, snapshot_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with building.hub.sessions() as session, session.begin():  # as the ingest stores them
        session.add(EventLog(id=event_id, kind="camera", site_id="demo", edge="b1-edge",
                             device="cam-lobby", seq=10**6, ts=now, data={}))
        await session.flush()
        session.add(CameraAlert(id=event_id, site_id="demo", edge="b1-edge", camera="cam-lobby",
                                event="motion", zone="lobby", area=0.3, snapshot_id=snapshot_id,
                                ts=now))
        session.add(Snapshot(id=snapshot_id, site_id="demo", edge="b1-edge", camera="cam-lobby",
                             kind="snapshot", content_type="image/jpeg", size=len(jpeg), ts=now,
                             expires_at=now + timedelta(days=1), data=jpeg))
    page = await logged_in(context, building, "guard1")
    await page.goto(f"{building.hub.url}/guard")
    shot = page.locator(f'#camera-list [data-alert="{event_id}"]')
    await expect(shot).to_contain_text("cam-lobby")
    await expect(shot).to_contain_text("区域 lobby")
    img = shot.locator("img")
    await expect(img).to_be_visible()
    assert await img.evaluate("i => i.decode().then(() => i.naturalWidth)") == 320


async def test_manager_notice_reaches_the_resident(building: Building, context: BrowserContext,
                                                   browser: Browser) -> None:
    resident_ctx = await browser.new_context(locale="zh-CN")
    try:
        resident = await logged_in(resident_ctx, building, "zhang", phone=True)
        await resident.goto(f"{building.hub.url}/me/notices")
        await expect(resident.locator("#notice-list")).to_contain_text("目前没有")
        manager = await logged_in(context, building, "manager1")
        await manager.goto(f"{building.hub.url}/manage/notices")
        await manager.fill("input[name=title]", "停水通知")
        await manager.fill("textarea[name=body]", "明天 9:00-12:00 停水，请提前储水。")
        await manager.locator("select[name=target] option", has_text="1号楼").wait_for(state="attached")
        await manager.select_option("select[name=target]", label="1号楼 (B1)")
        await manager.click("#notice-form button[type=submit]")
        await expect(manager.locator("#notice-list")).to_contain_text("停水通知")
        await screenshot(manager, "manager-notices")
        await expect(resident.locator("#notice-list")).to_contain_text("停水通知")  # pushed live
        await screenshot(resident, "resident-notices-phone")
    finally:
        await resident_ctx.close()


async def test_resident_visitor_pass_qr_opens_the_door(building: Building, context: BrowserContext,
                                                      browser: Browser) -> None:
    page = await logged_in(context, building, "zhang", phone=True)
    await page.goto(f"{building.hub.url}/me")
    await expect(page.get_by_test_id("my-qr")).to_have_attribute("data-token", re.compile(r".{100,}"))
    await screenshot(page, "resident-qr-phone")

    await page.goto(f"{building.hub.url}/me/passes")
    await page.fill("input[name=visitor_name]", "王芳")
    await page.fill("input[name=visitor_phone]", "13900000000")
    held = building.agent.cache.hash
    await page.get_by_test_id("issue-pass").click()
    qr = page.get_by_test_id("pass-qr")
    await expect(qr).to_have_attribute("data-token", re.compile(r".{100,}"))
    token = await qr.get_attribute("data-token")
    assert token is not None
    assert (await qr.get_attribute("src") or "").startswith("data:image/png;base64,")
    await expect(page.locator("#pass-rows")).to_contain_text("王芳")
    await screenshot(page, "resident-pass-issued-phone")
    link = await page.locator("#pass-share").input_value()
    assert re.fullmatch(rf"{building.hub.url}/visit/[\w-]{{16,64}}", link), link
    visitor = await browser.new_context(  # the visitor's phone: no login, English
        locale="en-US", viewport={"width": 390, "height": 844})
    try:
        shared = await visitor.new_page()
        await shared.goto(link)
        await expect(shared.get_by_test_id("visit")).to_contain_text("Welcome, 王芳")
        qr_image = shared.get_by_test_id("visit").locator("img")
        assert await qr_image.evaluate("i => i.decode().then(() => i.naturalWidth)") > 100
        await screenshot(shared, "visitor-shared-link-phone")
    finally:
        await visitor.close()

    await building.wait_perm_change(held, timeout=15.0)  # the pass reached the edge
    garage = building.sims["B1-garage"]
    garage.present_qr(token)
    assert await asyncio.to_thread(garage.wait_relay, True, 10.0) is not None
    async with asyncio.timeout(15):  # the edge reports the use; the hub stores it
        while not (granted := await building.events(door="B1-garage", result="granted")):
            await asyncio.sleep(0.05)
    assert granted[0]["credential_type"] == "visitor_pass"
    await page.reload()
    await expect(page.locator("#pass-rows tr").first).to_contain_text("1 / 2")
    await screenshot(page, "resident-passes-phone")


async def test_resident_requests_a_repair(building: Building, context: BrowserContext) -> None:
    page = await logged_in(context, building, "zhang", phone=True)
    await page.goto(f"{building.hub.url}/me/repairs")
    await expect(page.locator("#orders")).to_contain_text("您还没有报修记录")
    await page.fill("#repair-form input[name=title]", "厨房水龙头漏水")
    await page.fill("#repair-form textarea[name=description]", "工作日晚上七点后在家")
    await page.click("#repair-form button[type=submit]")
    order = page.locator("#orders article.order").first
    await expect(order).to_contain_text("厨房水龙头漏水")
    await expect(order).to_contain_text("报修")
    await screenshot(page, "resident-repairs-phone")
    orders = await building.call("GET", "/work-orders?kind=repair")
    assert [(o["title"], o["kind"]) for o in orders["items"]] == [("厨房水龙头漏水", "repair")]


async def test_resident_is_refused_staff_pages(building: Building, context: BrowserContext) -> None:
    page = await logged_in(context, building, "zhang", phone=True)
    for path in ("/manage/residents", "/guard", "/tech"):
        resp = await page.goto(f"{building.hub.url}{path}")
        assert resp is not None and resp.status == 403, path
        await expect(page.get_by_test_id("forbidden")).to_be_visible()
        # nothing of the page itself, and no menu entry a resident may not open
        assert await page.locator("#resident-table, #access-table, #fault-list").count() == 0
        hrefs = await page.locator("nav.tabs a").evaluate_all("as => as.map(a => a.pathname)")
        assert hrefs == ["/me", "/me/passes", "/me/vehicles", "/me/notices", "/me/security",
                         "/me/repairs", "/me/meters"]
    await screenshot(page, "not-allowed-phone")


async def test_language_switch_is_remembered(building: Building, context: BrowserContext) -> None:
    page = await logged_in(context, building, "manager1")
    await page.goto(f"{building.hub.url}/manage")
    await expect(page.locator("h1")).to_have_text("总览")
    await page.get_by_test_id("lang-switch").click()
    await expect(page.locator("h1")).to_have_text("Overview")
    await page.goto(f"{building.hub.url}/manage/cards")
    await expect(page.locator("h1")).to_have_text("Cards & groups")
    await expect(page.locator("#card-rows")).to_contain_text("1001")
    await page.get_by_test_id("lang-switch").click()
    await expect(page.locator("h1")).to_have_text("门卡与权限组")


async def test_manager_pages_and_csv_check(building: Building, context: BrowserContext) -> None:
    page = await logged_in(context, building, "manager1")
    base = building.hub.url
    await page.goto(f"{base}/manage/residents")
    await expect(page.locator("#resident-rows")).to_contain_text("张伟")
    await expect(page.locator("#unit-rows")).to_contain_text("101")
    form = page.locator(".import-form[data-kind=units]")
    await form.locator("input[type=file]").set_input_files(
        files=[{"name": "units.csv", "mimeType": "text/csv",
                "buffer": b"building,number,floor\nB1,301,3\nB9,302,3\n"}])
    await form.locator("button[type=submit]").click()
    await expect(form.locator(".import-result")).to_contain_text("B9")  # the refused line
    await screenshot(page, "manager-residents")
    for path, ready in (("/manage", ".tiles"), ("/manage/cards", "#card-rows tr[data-card]"),
                        ("/manage/equipment", "#equipment-rows tr[data-device]"),
                        ("/manage/orders", "#orders article, #orders p"),
                        ("/manage/passes", "#pass-rows tr"), ("/manage/devices", "#edge-rows tr"),
                        ("/manage/reports", "#traffic-report svg"), ("/guard/passes", "#pass-doors input")):
        await page.goto(f"{base}{path}")
        await expect(page.locator(ready).first).to_be_visible()
        await screenshot(page, "manager" + path.replace("/", "-"))
    # each edge's dead letters and the hub messages it refused, beside its other columns
    await page.goto(f"{base}/manage/devices")
    heads = page.locator("#edge-table thead th")
    await expect(heads).to_have_count(8)
    await expect(page.locator("#edge-rows tr").first.locator("td")).to_have_count(8)
    texts = await heads.all_inner_texts()
    assert {"Refused by the hub", "Refused by the edge"} <= set(texts) or \
        {"中心拒收", "边缘拒收"} <= set(texts)
    assert page.js_errors == []  # type: ignore[attr-defined]


async def test_technician_resolves_the_order_of_an_elevator_fault(
        building: Building, context: BrowserContext, lift: ModbusDeviceSimulator) -> None:
    page = await logged_in(context, building, "tech1", phone=True)
    await page.goto(f"{building.hub.url}/")
    await page.wait_for_url(re.compile(r"/tech$"))
    await expect(page.locator("#live")).to_have_class(re.compile(r"\bon\b"))
    await expect(page.locator("#orders")).to_contain_text("暂无工单")
    lift.fault("Err02")  # over-current during acceleration: skill elevator_drive, tech1's
    try:
        order = page.locator("article.order").first
        await expect(order).to_contain_text("Err02")  # pushed live, no reload
        await expect(order).to_contain_text("tech1")  # assigned by skill
        order_id = await order.get_attribute("data-order")
        await page.get_by_test_id(f"start-{order_id}").click()
        await expect(order).to_contain_text("处理中")
        await page.get_by_test_id(f"details-{order_id}").click()
        await order.locator("input[name=text]").fill("encoder cable loose")
        await order.get_by_role("button", name="添加备注").click()
        await expect(order.locator("ul.notes")).to_contain_text("encoder cable loose")
        await order.locator("input[name=name]").fill("encoder cable")
        await order.get_by_role("button", name="添加配件").click()
        await expect(order.locator("ul.parts")).to_contain_text("encoder cable × 1")
        await screenshot(page, "technician-order-phone")
        await page.get_by_test_id(f"resolve-{order_id}").click()
        await page.fill("#reason-dialog textarea", "cable reseated, test runs fine")
        await page.click("#reason-dialog button[value=ok]")
        await expect(order).to_contain_text("已完成")
        done = await building.call("GET", f"/work-orders/{order_id}")
        assert (done["state"], done["assignee"], done["fault_code"]) == ("resolved", "tech1", "Err02")
        assert [(p["name"], p["quantity"]) for p in done["parts"]] == [("encoder cable", 1)]
        assert done["history"][-1]["note"] == "cable reseated, test runs fine"
    finally:
        lift.fault("Err02", active=False)
    resp = await page.goto(f"{building.hub.url}/guard")
    assert resp is not None and resp.status == 403
