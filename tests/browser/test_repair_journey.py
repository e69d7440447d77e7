"""A resident's and a technician's day on their phones (issue 16): a repair request with a photo
is dispatched like a fault order (by skill and workload) and reaches the technician at once,
with a toast and a vibration; the technician sees where and whom to call, adds a photo from the
camera and completes it; the resident follows it live. And the resident's pages in English: a
menu that fits, dates people read, no staff-only call, a revoked pass without its QR code, a
badge for new notices. A manager dispatches an order nobody could take and gives it to
someone else, in Chinese and English, each technician told at once."""

from __future__ import annotations

import re
from typing import Any

import cv2
import numpy as np
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from hub.console.i18n import translate
from tests.browser.conftest import PASSWORD, logged_in, screenshot
from tests.support.building import Building

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]
# navigator.vibrate as the page calls it, recorded (a desktop Chromium has no motor)
VIBRATE = "navigator.vibrate = (p) => { (window.vibrated = window.vibrated || []).push(p); return true; };"


def _photo(text: str) -> dict[str, Any]:
    frame = np.full((240, 320, 3), 90, np.uint8)
    cv2.putText(frame, text, (20, 130), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (255, 255, 255), 3)
    return {"name": f"{text}.jpg", "mimeType": "image/jpeg",
            "buffer": cv2.imencode(".jpg", frame)[1].tobytes()}


async def _image_width(page: Page, selector: str) -> int:
    return int(await page.locator(selector).evaluate("i => i.decode().then(() => i.naturalWidth)"))


async def test_a_repair_with_a_photo_reaches_a_technician_who_completes_it(
        building: Building, context: BrowserContext, browser: Browser) -> None:
    technicians = await building.call("GET", "/technicians")
    tech1 = next(x for x in technicians["items"] if x["username"] == "tech1")
    await building.call("PATCH", f"/technicians/{tech1['id']}",
                        {"skills": [*tech1["skills"], "plumbing"]})
    tech_ctx = await browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844},
                                         has_touch=True, is_mobile=True)
    tech_ctx.set_default_timeout(10_000)
    try:
        await tech_ctx.add_init_script(VIBRATE)
        tech = await logged_in(tech_ctx, building, "tech1")
        await tech.goto(f"{building.hub.url}/tech")
        await expect(tech.locator("#live")).to_have_class(re.compile(r"\bon\b"))
        await expect(tech.locator("#orders")).to_contain_text("暂无工单")

        resident = await logged_in(context, building, "zhang", phone=True)
        await resident.goto(f"{building.hub.url}/me/repairs")
        await resident.fill("#repair-form input[name=title]", "厨房水龙头漏水")
        await resident.fill("#repair-form textarea[name=description]", "工作日晚上七点后在家")
        # the kind of repair is the skill it needs: a plumber's (tech1), as a fault's would be
        await resident.get_by_test_id("repair-kind").select_option(label="水管与下水")
        await resident.get_by_test_id("repair-photo").set_input_files(files=[_photo("leak")])
        await resident.click("#repair-form button[type=submit]")
        await expect(resident.locator("#toasts")).to_contain_text("技师 tech1 已接到您的报修。")
        mine = resident.locator("#orders article.order").first
        await expect(mine).to_contain_text("tech1")
        await expect(mine).to_contain_text("已派单")
        await screenshot(resident, "resident-repair-sent-phone")

        # the technician is told at once: the order, a toast, a vibration, where and whom
        order = tech.locator("article.order").first
        await expect(order).to_contain_text("厨房水龙头漏水")
        await expect(tech.locator("#toasts")).to_contain_text("新工单：厨房水龙头漏水")
        assert await tech.evaluate("window.vibrated") == [[200, 100, 200]]
        order_id = await order.get_attribute("data-order")
        await tech.get_by_test_id(f"details-{order_id}").click()
        where = order.get_by_test_id("order-where")
        await expect(where).to_contain_text("1号楼 (B1) · 101 · 1 层")
        await expect(where).to_contain_text("张伟")
        await expect(order.get_by_test_id("order-call")).to_have_attribute("href", "tel:13800000001")
        assert await _image_width(tech, "[data-testid=order-photos] img") == 320
        await screenshot(tech, "technician-new-repair-phone")

        await tech.get_by_test_id(f"start-{order_id}").click()
        await expect(order).to_contain_text("处理中")
        photo_input = tech.get_by_test_id(f"photo-{order_id}")
        assert await photo_input.get_attribute("capture") == "environment"
        assert await photo_input.get_attribute("accept") == "image/*"
        await photo_input.set_input_files(files=[_photo("fixed")])
        await order.get_by_role("button", name="添加照片").click()
        await expect(order.locator("[data-testid=order-photos] img")).to_have_count(2)
        await tech.get_by_test_id(f"resolve-{order_id}").click()
        await tech.fill("#reason-dialog textarea", "换了阀芯，不再漏水")
        await tech.click("#reason-dialog button[value=ok]")
        await expect(order).to_contain_text("已完成")
        await screenshot(tech, "technician-repair-done-phone")

        await expect(mine).to_contain_text("已完成")  # pushed to the resident live
        await mine.get_by_role("button", name="确认已修好").click()
        await expect(mine).to_contain_text("已关闭")
        done = await building.call("GET", f"/work-orders/{order_id}")
        assert (done["state"], done["assignee"], done["kind"], done["skill"]) == (
            "closed", "tech1", "repair", "plumbing")
        assert len(done["photos"]) == 2
        assert [h["action"] for h in done["history"]][:2] == ["opened", "assigned"]
        await screenshot(resident, "resident-repair-closed-phone")
        assert tech.js_errors == [] and resident.js_errors == []  # type: ignore[attr-defined]
    finally:
        await tech_ctx.close()


async def test_a_residents_pages_in_english_on_a_phone(
        building: Building, browser: Browser) -> None:
    ctx = await browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    ctx.set_default_timeout(10_000)
    try:
        await ctx.add_cookies([{"name": "lintel_lang", "value": "en", "url": building.hub.url}])
        page = await logged_in(ctx, building, "zhang", phone=True)
        asked: list[str] = []
        refused: list[str] = []
        page.on("request", lambda r: asked.append(r.url))
        page.on("response", lambda r: refused.append(r.url) if r.status >= 400 else None)

        await page.goto(f"{building.hub.url}/me")
        nav = page.locator("nav.tabs a")
        await expect(nav).to_have_text(
            ["My door code", "My visitors", "My cars & visitor cars", "Notices", "Home security",
             "My repairs", "My water & power"])
        cut = await nav.evaluate_all(
            "as => as.filter(a => a.scrollWidth > a.clientWidth "
            "|| a.getBoundingClientRect().right > innerWidth).map(a => a.textContent)")
        assert cut == []
        await screenshot(page, "resident-menu-en-phone")

        # a notice posted: a badge on the menu until the resident opens the notices
        await building.call("POST", "/notices", {"site_id": "demo", "title": "Lift service",
                                                 "body": "Friday 9-11."}, status=201)
        await page.reload()
        await expect(page.get_by_test_id("notice-badge")).to_have_text("1")
        await page.get_by_role("link", name=re.compile("^Notices")).click()
        await expect(page.locator("#notice-list")).to_contain_text("Lift service")
        await expect(page.get_by_test_id("notice-badge")).to_be_hidden()
        await page.goto(f"{building.hub.url}/me")
        await expect(page.get_by_test_id("notice-badge")).to_be_hidden()

        await page.goto(f"{building.hub.url}/me/passes")
        await page.fill("input[name=visitor_name]", "Wang Fang")
        await page.fill("input[name=visitor_phone]", "13900000000")
        await page.get_by_test_id("issue-pass").click()
        qr = page.get_by_test_id("pass-qr")
        await expect(qr).to_have_attribute("data-token", re.compile(r".{100,}"))
        row = page.locator("#pass-rows tr").first
        await expect(row).to_contain_text("Wang Fang")
        await expect(row).to_contain_text(re.compile(r"[A-Z][a-z]{2} \d{1,2}, \d\d:\d\d"))  # Dec 5, 14:00
        link = await page.locator("#pass-share").input_value()
        visitor = await ctx.new_page()
        await visitor.goto(link)
        await expect(visitor.get_by_test_id("visit")).to_contain_text(
            re.compile(r"Valid [A-Z][a-z]{2} \d{1,2}, \d\d:\d\d – [A-Z][a-z]{2} \d{1,2}, \d\d:\d\d, 2 uses"))
        await visitor.close()

        page.once("dialog", lambda d: d.accept())
        await row.get_by_role("button", name=re.compile("Revoke")).click()
        await expect(row).to_contain_text("Revoked")
        await expect(page.locator("#pass-issued")).to_be_hidden()
        assert await qr.get_attribute("src") is None
        assert await qr.get_attribute("data-token") is None
        await expect(row.get_by_role("link", name="QR")).to_have_count(0)
        await screenshot(page, "resident-pass-revoked-en-phone")
        assert not [u for u in asked if "/api/v1/buildings" in u]
        assert refused == []
        assert page.js_errors == []  # type: ignore[attr-defined]
    finally:
        await ctx.close()


async def _technician(building: Building, username: str, skills: list[str]) -> int:
    """The technician `username` of the demo site with exactly `skills` (made if missing)."""
    users = await building.call("GET", "/users")
    found = next((u for u in users["items"] if u["username"] == username), None)
    if found is None:
        found = await building.call("POST", "/users", {
            "username": username, "password": PASSWORD, "role": "technician",
            "site_id": "demo"}, status=201)
    await building.call("PATCH", f"/technicians/{found['id']}", {"skills": skills})
    return int(found["id"])


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_manager_dispatches_and_reassigns_an_order(
        building: Building, browser: Browser, lang: str) -> None:
    def t(key: str, **values: object) -> str:
        return translate(lang, key, **values)

    tech1 = await _technician(building, "tech1", ["elevator_drive"])
    tech2 = await _technician(building, "tech2", [])
    async with building.http.post(f"{building.api}/auth/login",
                                  json={"username": "zhang", "password": PASSWORD}) as resp:
        token = (await resp.json())["token"]
    async with building.http.post(  # electrics: nobody has the skill, so nobody is told
            f"{building.api}/work-orders", headers={"Authorization": f"Bearer {token}"},
            json={"title": f"走廊灯不亮 {lang}", "skill": "electrical"}) as resp:
        order = await resp.json()
        assert resp.status == 201 and order["state"] == "open", order
    locale = {"zh": "zh-CN", "en": "en-US"}[lang]
    ctx = await browser.new_context(locale=locale, viewport={"width": 1366, "height": 860})
    tech_ctx = await browser.new_context(locale=locale, viewport={"width": 390, "height": 844})
    ctx.set_default_timeout(10_000)
    tech_ctx.set_default_timeout(10_000)
    try:
        manager = await logged_in(ctx, building, "manager1")
        await manager.goto(f"{building.hub.url}/manage/orders")
        card = manager.locator(f"article.order[data-order='{order['id']}']")
        await expect(card).to_contain_text(t("wo.unassigned"))
        button = manager.get_by_test_id(f"dispatch-{order['id']}")
        await expect(button).to_have_text(t("wo.dispatch"))
        await button.click()  # nobody has the skill: the manager is told what to do
        await expect(manager.locator("#toasts")).to_contain_text(
            t("wo.no_technician", skill=t("skill.electrical")))

        await _technician(building, "tech1", ["elevator_drive", "electrical"])
        await _technician(building, "tech2", ["electrical"])
        tech_ctx_page = await logged_in(tech_ctx, building, "tech1", phone=True)
        await tech_ctx_page.goto(f"{building.hub.url}/tech")
        await expect(tech_ctx_page.locator("#live")).to_have_class(re.compile(r"\bon\b"))

        await button.click()
        dialog = manager.locator("#dispatch-dialog")
        choice = dialog.get_by_test_id("dispatch-technician")
        await expect(choice.locator("option")).to_have_count(3)  # automatic, tech1, tech2
        await choice.select_option(str(tech1))
        await dialog.get_by_test_id("dialog-ok").click()
        await expect(manager.locator("#toasts")).to_contain_text(t("wo.dispatched", who="tech1"))
        await expect(card).to_contain_text(t("wo.assignee", who="tech1"))
        # tech1 is told at once, on the phone
        await expect(tech_ctx_page.locator("#toasts")).to_contain_text(
            t("wo.new", title=order["title"]))
        await screenshot(manager, f"manager-dispatched-{lang}")

        # reassigned by the hub's choice: the other electrician; tech1's phone drops it
        await manager.get_by_test_id(f"dispatch-{order['id']}").click()
        await expect(manager.get_by_test_id(f"dispatch-{order['id']}")).to_have_text(t("wo.reassign"))
        await dialog.get_by_test_id("dispatch-technician").select_option("")
        await dialog.locator("input[name=note]").fill("tech1 休假")
        await dialog.get_by_test_id("dialog-ok").click()
        await expect(card).to_contain_text(t("wo.assignee", who="tech2"))
        await expect(tech_ctx_page.locator(f"article.order[data-order='{order['id']}']")).to_have_count(0)
        done = await building.call("GET", f"/work-orders/{order['id']}")
        assert (done["assignee_id"], done["state"]) == (tech2, "assigned")
        assert [h["action"] for h in done["history"]][-2:] == ["assigned", "reassigned"]
        assert done["history"][-1]["note"] == "tech1 休假"
        assert manager.js_errors == [] and tech_ctx_page.js_errors == []  # type: ignore[attr-defined]
    finally:
        await ctx.close()
        await tech_ctx.close()
