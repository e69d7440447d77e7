"""Every console page of every role, in Chinese, with data on it (swipes, a refusal, a
remote command, a lift fault with its alarm and work order, a notice, a visitor pass, a
repair request): no English word may show that is not a proper name or a code."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Browser, Page

from hub.console.pages import CONSOLE
from simulators.modbus_devices import ModbusDeviceSimulator
from tests.browser.conftest import USERS, logged_in, screenshot
from tests.support.building import Building

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Words that may stay as they are in the Chinese console: the product's and a language's
# name, abbreviations people say as they are, and the units. A token with a digit, a hyphen,
# an underscore or a slash is a code (B1-main, Err02, lift-1, 1001, Asia/Shanghai) and passes
# too, as do usernames and what an element marked translate="no" (or a <code>, or .mono)
# holds: a command line, a protocol's setting.
ALLOWED = frozenset({"Lintel", "English", "QR", "BLE", "OSDP", "Modbus", "TCP", "RTU", "CSV",
                     "ID", "PIN", "MPa", "m²"})
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.'’²/-]*")
# the text a person sees: visible text nodes, the options of the visible lists, and the
# placeholders and tooltips; an element marked translate="no" holds a code or a name
_VISIBLE_TEXT = """() => {
  const texts = [document.title];
  const skip = (el) => !el || el.closest('[translate="no"], code, kbd, samp, .mono, script, style, template');
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (skip(el) || el.tagName === "OPTION" || !el.checkVisibility()) continue;
    texts.push(node.textContent);
  }
  for (const el of document.querySelectorAll("option, [placeholder], [title], [aria-label]")) {
    const box = el.tagName === "OPTION" ? el.closest("select") : el;
    if (skip(el) || !box || !box.checkVisibility()) continue;
    if (el.tagName === "OPTION") texts.push(el.textContent);
    for (const name of ["placeholder", "title", "aria-label"]) {
      if (el.getAttribute(name)) texts.push(el.getAttribute(name));
    }
  }
  return texts.join("\\n");
}"""


def english_words(text: str, names: set[str]) -> list[str]:
    """The words of `text` that are English: not allowed, not a code, not a name we gave."""
    found = []
    for word in _WORD.findall(text):
        word = word.rstrip(".'’")
        if (word in ALLOWED or word in names or any(c.isdigit() for c in word)
                or any(c in word for c in "-_./")):
            continue
        found.append(word)
    return found


async def _stage(building: Building, lift: ModbusDeviceSimulator) -> None:
    """Something on every page: the log, a command, a fault, a notice, a pass, a repair."""
    building.sims["B1-main"].present_card("1001")
    building.sims["B1-main"].present_card("9999")  # refused: unknown card
    doors = {d["name"]: d["id"] for d in (await building.call("GET", "/doors"))["items"]}
    await building.call("POST", f"/doors/{doors['B1-main']}/unlock",
                        {"reason": "快递员在门口"}, status=202)
    lift.fault("Err02")  # an alarm, and a work order for tech1 (skill elevator_drive)
    await building.call("POST", "/notices", {"site_id": "demo", "title": "停水通知",
                                             "body": "明天上午停水。"}, status=201)


async def _wait_for_data(building: Building) -> None:
    for _ in range(100):
        orders = await building.call("GET", "/work-orders")
        alarms = await building.call("GET", "/alarms?type=device_fault")
        if orders["items"] and alarms["items"]:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the lift's fault made no alarm or work order")


async def _walk(page: Page, url: str, name: str, names: set[str]) -> list[str]:
    resp = await page.goto(url)
    assert resp is not None and resp.status in (200, 403), (url, resp and resp.status)
    await page.wait_for_load_state("networkidle")
    await page.wait_for_timeout(300)  # the scripts fill their lists from the API
    for details in await page.locator('[data-testid^="details-"]').all():
        await details.click()  # a work order's history: who did what, the hub's own steps too
        await page.wait_for_timeout(300)
    await screenshot(page, f"zh-{name}")
    text = await page.evaluate(_VISIBLE_TEXT)
    return [f"{url}: {w}" for w in english_words(text, names)]


def test_english_words_are_found_and_codes_are_not() -> None:
    text = ("门 B1-main 被拒绝 unknown card · Err02 · 1001 · Lintel · QR · guard1 · Fire alarm · "
            "Asia/Shanghai")
    assert english_words(text, {"guard1"}) == ["unknown", "card", "Fire", "alarm"]


@pytest.mark.asyncio(loop_scope="module")
async def test_every_page_of_every_role_reads_in_chinese(
        building: Building, browser: Browser, lift: ModbusDeviceSimulator) -> None:
    await _stage(building, lift)
    try:
        await _wait_for_data(building)
        names = set(USERS) | {"admin", "demo"}
        found: list[str] = []
        for username, role in USERS.items():
            ctx = await browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 860})
            ctx.set_default_timeout(10_000)
            try:
                page = await logged_in(ctx, building, username)
                if role == "resident":  # a repair request of their own
                    resp = await page.request.post(f"{building.api}/work-orders", data={
                        "title": "厨房水龙头漏水", "description": "一直滴水"})
                    assert resp.status == 201, await resp.text()
                for p in CONSOLE.pages:
                    if role in p.roles:
                        found += await _walk(page, f"{building.hub.url}{p.path}",
                                             f"{role}{p.path.replace('/', '-')}", names)
                # a page of another role: the "not allowed" page, in Chinese too
                other = "/guard" if role != "guard" else "/manage"
                found += await _walk(page, f"{building.hub.url}{other}", f"{role}-forbidden",
                                     names)
                assert page.js_errors == []  # type: ignore[attr-defined]
            finally:
                await ctx.close()
        ctx = await browser.new_context(locale="zh-CN")
        try:
            page = await ctx.new_page()
            found += await _walk(page, f"{building.hub.url}/login", "login", names)
        finally:
            await ctx.close()
        assert not found, "English in the Chinese console:\n" + "\n".join(sorted(set(found)))
    finally:
        lift.fault("Err02", active=False)
