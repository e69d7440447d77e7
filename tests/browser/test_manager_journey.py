"""A property manager's day in the console (issue 16), in Chinese and English, against the hub,
the edge agent and simulated OSDP doors: a resident added, their card read at a door in enrol
mode and issued, the card then opening that door; report lost only after a confirmation (and
the door refusing it); a member added to an access group; a login made; a notice already past
refused; lists searched and exported; the overview's tiles following the swipes live."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.browser.conftest import logged_in, screenshot
from tests.support.building import Building

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


async def _granted(building: Building, door: str, card: str, timeout: float = 8.0) -> bool:
    """Present `card` at `door` until the relay opens (the new snapshot may still be on its
    way to the edge); False if it never did within `timeout`."""
    sim = building.sims[door]
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        assert await asyncio.to_thread(sim.wait_relay, False, 10.0) is not None
        sim.present_card(card)
        if await asyncio.to_thread(sim.wait_relay, True, 1.0) is not None:
            return True
    return False


async def _tile(page: Page, name: str) -> int:
    return int(await page.locator(f'[data-tile="{name}"] .value').inner_text())


async def test_a_manager_adds_a_resident_and_issues_a_card_that_opens_the_door(
        building: Building, context: BrowserContext) -> None:
    base = building.hub.url
    page = await logged_in(context, building, "manager1")
    overview = await logged_in(context, building, "manager1")
    await overview.goto(f"{base}/manage")
    await expect(overview.locator("#live")).to_have_class(re.compile(r"\bon\b"))
    events_before = await _tile(overview, "events_today")

    # a new resident, in a unit and an access group
    await page.goto(f"{base}/manage/residents")
    await expect(page.locator("#resident-rows")).to_contain_text("张伟")
    await page.get_by_test_id("resident-add").click()
    dialog = page.locator("#resident-dialog")
    await dialog.get_by_test_id("resident-name").fill("王小明")
    await dialog.locator("input[name=phone]").fill("13800000009")
    # a building, then its units (not the compound's thousands in one list)
    await dialog.get_by_test_id("resident-building").select_option(index=0)
    await expect(dialog.get_by_test_id("resident-unit").locator("option")).to_have_count(1)
    await dialog.get_by_test_id("resident-building").select_option(index=1)
    await dialog.get_by_test_id("resident-unit").select_option(label="B1 201")
    await dialog.locator("select[name=type]").select_option("owner")
    await dialog.get_by_label("1号楼大门").check()
    await screenshot(page, "manager-add-resident")
    await dialog.get_by_test_id("dialog-ok").click()
    await expect(dialog).to_have_count(0)
    row = page.locator("#resident-rows tr", has_text="王小明")
    await expect(row).to_contain_text("B1 201")
    await expect(row).to_contain_text("1号楼大门")
    await page.get_by_test_id("resident-search").fill("王小")
    await expect(page.locator("#resident-rows tr")).to_have_count(1)
    await expect(page.get_by_test_id("page-where")).to_have_text("第 1–1 条，共 1 条")

    # its card: read at the door in enrol mode (the door refuses the unknown card), issued
    await row.get_by_role("link", name="发卡").click()
    await page.wait_for_url(re.compile(r"/manage/cards\?resident=\d+$"))
    await expect(page.get_by_test_id("card-holder")).to_have_value(re.compile(r"^王小明 · #\d+$"))
    await expect(page.locator("#live")).to_have_class(re.compile(r"\bon\b"))
    await page.get_by_test_id("enrol-door").select_option("B1-main")
    await page.get_by_test_id("enrol-start").click()
    await expect(page.get_by_test_id("enrol-status")).to_contain_text("请现在在 1号楼 正门 刷卡")
    building.sims["B1-main"].present_card("20261204")
    await expect(page.get_by_test_id("enrol-status")).to_have_text("已读到卡号 20261204。")
    await expect(page.get_by_test_id("card-number")).to_have_value("20261204")
    assert await asyncio.to_thread(building.sims["B1-main"].wait_relay, True, 0.5) is None
    await screenshot(page, "manager-card-enrolled")
    held = building.agent.cache.hash
    await page.get_by_test_id("issue-card").click()
    await expect(page.locator("#toasts")).to_contain_text("已向 王小明 发放卡 20261204")
    card_row = page.locator('#card-rows tr[data-card="20261204"]')
    await expect(card_row).to_contain_text("王小明")
    await expect(card_row).to_contain_text("有效")

    # the proof: the card issued in the console opens the door in the simulator
    await building.wait_perm_change(held, timeout=10)
    assert await _granted(building, "B1-main", "20261204")
    async with asyncio.timeout(15):
        while not [e for e in await building.events(door="B1-main", result="granted")
                   if e["credential"] == "20261204"]:
            await asyncio.sleep(0.1)
    # the overview counted the swipes without a reload
    async with asyncio.timeout(15):  # the refused enrol read and the granted swipe
        while await _tile(overview, "events_today") < events_before + 2:
            await asyncio.sleep(0.1)
    await screenshot(overview, "manager-overview-live")

    # report lost: nothing happens until the manager confirms
    await page.get_by_test_id("card-search").fill("20261204")
    await expect(page.locator("#card-rows tr")).to_have_count(1)
    await page.get_by_test_id("lost-20261204").click()
    confirm = page.locator("#confirm-dialog")
    await expect(confirm).to_contain_text("王小明 的卡 20261204 将立即在所有门失效")
    await screenshot(page, "manager-report-lost-confirm")
    await confirm.get_by_test_id("confirm-cancel").click()
    await expect(card_row).to_contain_text("有效")
    assert (await building.call("GET", "/cards?q=20261204"))["items"][0]["status"] == "active"
    held = building.agent.cache.hash
    await page.get_by_test_id("lost-20261204").click()
    await page.locator("#confirm-dialog").get_by_test_id("confirm-ok").click()
    await expect(card_row).to_contain_text("挂失")
    await building.wait_perm_change(held, timeout=10)
    sim = building.sims["B1-main"]
    assert await asyncio.to_thread(sim.wait_relay, False, 10.0) is not None
    sim.present_card("20261204")
    assert await asyncio.to_thread(sim.wait_relay, True, 1.5) is None  # lost: refused
    assert page.js_errors == []  # type: ignore[attr-defined]


async def test_a_manager_keeps_groups_users_and_notices_in_english(
        building: Building, context: BrowserContext) -> None:
    base = building.hub.url
    await context.add_cookies([{"name": "lintel_lang", "value": "en", "url": base}])
    page = await logged_in(context, building, "manager1")

    # a member added to an access group by searching for her
    await page.goto(f"{base}/manage/cards")
    await page.get_by_test_id("members-1号楼大门").click()
    members = page.locator("#members-dialog")
    await expect(members.get_by_test_id("member-list")).to_contain_text("张伟")
    await members.get_by_test_id("member-search").fill("李娜")
    await page.wait_for_function(
        "document.querySelectorAll('#member-choices option').length > 0")
    await members.get_by_test_id("member-search").fill(
        await page.locator("#member-choices option").first.get_attribute("value") or "")
    await members.get_by_test_id("member-add").click()
    await expect(members.get_by_test_id("member-list")).to_contain_text("李娜")
    await expect(page.locator("#toasts")).to_contain_text("李娜 joined 1号楼大门.")
    await screenshot(page, "manager-group-members-en")
    await members.get_by_test_id("dialog-ok").click()
    li = (await building.call("GET", "/residents?q=李娜"))["items"][0]
    group = (await building.call("GET", "/access-groups"))["items"][0]
    assert group["id"] in li["groups"]

    # replace a card (asked in a dialog), the list exported as CSV
    await page.get_by_test_id("replace-1002").click()
    await page.get_by_test_id("replace-number").fill("1003")
    await page.get_by_test_id("dialog-ok").click()
    await expect(page.locator("#toasts")).to_contain_text("New card 1003 issued")
    await expect(page.locator('#card-rows tr[data-card="1002"]')).to_contain_text("Revoked")
    async with page.expect_download() as download_info:
        await page.get_by_test_id("card-export").click()
    download = await download_info.value
    text = (await download.path()).read_text(encoding="utf-8-sig")  # type: ignore[union-attr]
    assert text.splitlines()[0] == "Card number,Holder,Status,Valid from,Valid until"
    assert any(line.startswith("1003,李娜,Active") for line in text.splitlines())
    await screenshot(page, "manager-cards-en")

    # a technician's login, with a skill
    await page.goto(f"{base}/manage/users")
    await page.get_by_test_id("user-add").click()
    dialog = page.locator("#user-dialog")
    await dialog.get_by_test_id("user-name").fill("tech2")
    await dialog.get_by_test_id("user-password").fill("short")
    await dialog.get_by_test_id("user-role").select_option("technician")
    await dialog.get_by_test_id("dialog-ok").click()
    await expect(dialog.locator(".error-text")).to_have_text(
        "The password needs at least 10 characters.")
    await dialog.get_by_test_id("user-password").fill("a long enough password")
    await dialog.get_by_test_id("dialog-ok").click()
    await expect(page.locator('#user-rows tr[data-user="tech2"]')).to_contain_text("Technician")
    await screenshot(page, "manager-users-en")

    # a notice valid until a day already past is refused, and says why
    await page.goto(f"{base}/manage/notices")
    await page.fill("input[name=title]", "Water off")
    await page.fill("textarea[name=body]", "Tomorrow 9-12.")
    await page.wait_for_function(  # the places a notice may go to, loaded
        "document.querySelectorAll('select[name=target] option').length > 1")
    await page.fill("input[name=valid_until]", "2020-01-01T09:00")
    await page.click("#notice-form button[type=submit]")
    await expect(page.locator("#notice-error")).to_have_text(
        "The end of validity is already past: nobody would see this notice.")
    assert (await building.call("GET", "/notices"))["items"] == []
    assert page.js_errors == []  # type: ignore[attr-defined]
