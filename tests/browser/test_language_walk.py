"""Every console page of every role, in Chinese and in English, with data on it (swipes, a
refusal, a remote command, a lift fault with its alarm and work order, a notice, a visitor
pass, a repair request). In Chinese no English word may show that is not a proper name or a
code; in English no Chinese character may show that is not in data people typed (a name, a
label, a notice, a reason)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page
from sqlalchemy import String, Text, select

from hub.console.pages import CONSOLE
from hub.schema import metadata
from simulators.modbus_devices import ModbusDeviceSimulator
from tests.browser.conftest import PASSWORD, USERS, logged_in, screenshot
from tests.support.building import Building

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Words that may stay as they are in the Chinese console: the product's and a language's
# name, abbreviations people say as they are, and the units. A token with a digit, a hyphen,
# an underscore or a slash is a code (B1-main, Err02, lift-1, 1001, Asia/Shanghai) and passes
# too, as do usernames and what an element marked translate="no" (or a <code>, or .mono)
# holds: a command line, a protocol's setting.
ALLOWED = frozenset({"Lintel", "English", "QR", "BLE", "OSDP", "Modbus", "TCP", "RTU", "CSV",
                     "ID", "PIN", "MPa", "m²"})
# ... and in the English console, the language switch's own name for Chinese
ALLOWED_HAN = frozenset({"中文"})
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.'’²/-]*")
_HAN = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+")
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


def chinese_words(text: str, data: set[str]) -> list[str]:
    """The Chinese of `text` that is not in data people typed (`data`: names, labels,
    notices ...), each with a few characters around it to find it by."""
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    return [f"{m.group()} in {' '.join(text[max(0, m.start() - 20):m.end() + 20].split())!r}"
            for m in _HAN.finditer(text) if m.group() not in ALLOWED_HAN]


async def _typed_data(building: Building) -> set[str]:
    """Every text with Chinese stored in the hub's tables, except a column of the hub's own
    Chinese wording (`*_zh`): what people typed, shown as they typed it in either language."""
    values: set[str] = set()
    async with building.hub.sessions() as session:
        for table in metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, String | Text) or column.name.endswith("_zh"):
                    continue
                for value in await session.scalars(select(column).distinct()):
                    if isinstance(value, str) and _HAN.search(value):
                        values.update({value, *value.split()})
    return values


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
    async with building.http.post(f"{building.api}/auth/login",
                                  json={"username": "zhang", "password": PASSWORD}) as resp:
        token = (await resp.json())["token"]
    async with building.http.post(  # the resident's own repair request
            f"{building.api}/work-orders", json={"title": "厨房水龙头漏水", "description": "一直滴水"},
            headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 201, await resp.text()
    for _ in range(100):
        orders = await building.call("GET", "/work-orders")
        alarms = await building.call("GET", "/alarms?type=device_fault")
        if orders["items"] and alarms["items"]:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the lift's fault made no alarm or work order")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def staged(building: Building, lift: ModbusDeviceSimulator) -> AsyncIterator[Building]:
    await _stage(building, lift)
    try:
        yield building
    finally:
        lift.fault("Err02", active=False)


async def _walk(page: Page, url: str, name: str) -> str:
    """The visible text of the page at `url`, once its scripts have filled it in."""
    resp = await page.goto(url)
    assert resp is not None and resp.status in (200, 403), (url, resp and resp.status)
    await page.wait_for_load_state("networkidle")
    await page.wait_for_timeout(300)  # the scripts fill their lists from the API
    for details in await page.locator('[data-testid^="details-"]').all():
        await details.click()  # a work order's history: who did what, the hub's own steps too
        await page.wait_for_timeout(300)
    await screenshot(page, name)
    return str(await page.evaluate(_VISIBLE_TEXT))


def test_english_words_are_found_and_codes_are_not() -> None:
    text = ("门 B1-main 被拒绝 unknown card · Err02 · 1001 · Lintel · QR · guard1 · Fire alarm · "
            "Asia/Shanghai")
    assert english_words(text, {"guard1"}) == ["unknown", "card", "Fire", "alarm"]


def test_chinese_is_found_and_typed_data_is_not() -> None:
    text = "Door 1号楼 正门 opened for 张伟 · 门禁记录 · Notice 停水通知"
    found = chinese_words(text, {"1号楼 正门", "1号楼", "张伟", "停水通知"})
    assert [w.split(" in ")[0] for w in found] == ["门禁记录"]


LOCALES = {"zh": "zh-CN", "en": "en-US"}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.asyncio(loop_scope="module")
# every page of every role: 57-72 s at load 10, past the suite's 120 s on a loaded CI machine
@pytest.mark.timeout(600)
async def test_every_page_of_every_role_reads_in_its_language(
        staged: Building, browser: Browser, lang: str) -> None:
    building = staged
    names = set(USERS) | {"admin", "demo"}
    data = await _typed_data(building) if lang == "en" else set()

    def foreign(url: str, text: str) -> list[str]:
        words = english_words(text, names) if lang == "zh" else chinese_words(text, data)
        return [f"{url}: {w}" for w in words]

    found: list[str] = []
    for username, role in USERS.items():
        ctx = await browser.new_context(locale=LOCALES[lang], viewport={"width": 1366, "height": 860})
        ctx.set_default_timeout(10_000)
        try:
            page = await logged_in(ctx, building, username)
            for p in CONSOLE.pages:
                if role in p.roles:
                    url = f"{building.hub.url}{p.path}"
                    found += foreign(url, await _walk(
                        page, url, f"{lang}-{role}{p.path.replace('/', '-')}"))
            # a page of another role: the "not allowed" page, in the reader's language too
            url = f"{building.hub.url}{'/guard' if role != 'guard' else '/manage'}"
            found += foreign(url, await _walk(page, url, f"{lang}-{role}-forbidden"))
            assert page.js_errors == []  # type: ignore[attr-defined]
        finally:
            await ctx.close()
    ctx = await browser.new_context(locale=LOCALES[lang])
    try:
        page = await ctx.new_page()
        url = f"{building.hub.url}/login"
        found += foreign(url, await _walk(page, url, f"{lang}-login"))
    finally:
        await ctx.close()
    assert not found, f"foreign words in the {lang} console:\n" + "\n".join(sorted(set(found)))
