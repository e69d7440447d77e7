"""Issue 15: the installer's page on a phone (390×844), in Chinese: a building's edges, lines,
doors and devices listed; a line added through the form, a refused one marked at its field
with the hub's reason, the new one removed again. In English: a door's reader put in install
mode, a resident's PIN refused at its field, then set. In both: an edge's configuration reset,
confirmed with a required reason, the edge's answer shown."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, Dialog, expect

from tests.browser.conftest import logged_in, screenshot
from tests.support.building import Building

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


async def test_an_installer_adds_and_removes_a_line_on_a_phone(
        building: Building, context: BrowserContext) -> None:
    page = await logged_in(context, building, "manager1", phone=True)
    await page.goto(f"{building.hub.url}/manage/installation")
    await expect(page.locator("h1")).to_have_text("安装调试")
    await expect(page.locator("#edges-rows")).to_contain_text("b1-edge")
    await expect(page.locator("#lines-rows")).to_contain_text("B1-main-rs485")
    await expect(page.locator("#doors-rows")).to_contain_text("B1-main")
    await expect(page.locator("#provision")).to_contain_text("lintel provision edge demo B1")

    form = page.get_by_test_id("lines-form")
    await form.locator("input[name=name]").fill("B1-bus")
    await form.locator("input[name=port]").fill("ttyS9")  # not a serial device
    await form.locator("select[name=protocol]").select_option("modbus")
    await form.locator("button.primary").click()
    await expect(form.locator("[data-field=port]")).to_have_class("invalid")
    await expect(form.locator(".error")).to_contain_text("port")
    await form.locator("input[name=port]").fill("/dev/ttyUSB9")
    await form.locator("button.primary").click()
    await expect(page.locator("#lines-rows")).to_contain_text("/dev/ttyUSB9")
    # a phone's width holds the page: the tables scroll inside their cards
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await screenshot(page, "installer-phone")

    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    page.once("dialog", accept)
    row = page.locator("#lines-rows tr", has_text="B1-bus")
    await row.locator("button.danger").click()
    await expect(page.locator("#lines-rows")).not_to_contain_text("B1-bus")
    assert page.js_errors == []  # type: ignore[attr-defined]


async def test_an_installer_commissions_a_reader_and_sets_a_pin_in_english(
        building: Building, context: BrowserContext) -> None:
    await context.add_cookies([{"name": "lintel_lang", "value": "en", "url": building.hub.url}])
    try:
        page = await logged_in(context, building, "manager1", phone=True)
        await page.goto(f"{building.hub.url}/manage/installation")

        async def reason(dialog: Dialog) -> None:
            await dialog.accept(dialog.default_value)  # "reader commissioning"

        page.once("dialog", reason)
        row = page.locator("#doors-rows tr", has_text="B1-garage")
        await row.get_by_role("button", name="Install mode").click()
        await expect(page.locator(".toast").last).to_contain_text("B1-garage: install mode for 10")
        sent = await building.call("GET", "/commands?site_id=demo")
        assert any(c["command"] == "reader_install" and c["door"] == "B1-garage"
                   and c["reason"] == "reader commissioning" for c in sent["items"])

        form = page.get_by_test_id("pin-form")
        await form.locator("select[name=resident]").select_option(label="张伟")
        await form.locator("input[name=pin]").fill("12")  # too short: refused at its field
        await form.locator("button.primary").click()
        await expect(form.locator("[data-field=pin]")).to_have_class("invalid")
        await form.locator("input[name=pin]").fill("2580")
        await form.locator("input[name=duress_pin]").fill("2581")
        await form.locator("button.primary").click()
        await expect(page.locator(".toast").last).to_contain_text("PIN set for 张伟")
        await expect(form.locator("[data-field=pin]")).not_to_have_class("invalid")
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        await screenshot(page, "installer-reader-pin-en")
        assert page.js_errors == []  # type: ignore[attr-defined]
    finally:
        await context.clear_cookies(name="lintel_lang")


async def _reset_commands(building: Building) -> list[dict[str, object]]:
    sent = await building.call("GET", "/commands?site_id=demo&edge=b1-edge")
    return [c for c in sent["items"] if c["command"] == "reset_config"]


async def test_an_installer_resets_an_edges_configuration_with_a_reason_in_chinese(
        building: Building, context: BrowserContext) -> None:
    page = await logged_in(context, building, "manager1", phone=True)
    await page.goto(f"{building.hub.url}/manage/installation")
    before = len(await _reset_commands(building))
    row = page.locator("#edges-rows tr", has_text="b1-edge")
    dialog = page.locator("#reason-dialog")
    # cancelled: nothing is sent
    await row.get_by_role("button", name="重置配置").click()
    await expect(dialog.locator("#reason-title")).to_contain_text("确定重置 b1-edge 的配置")
    await dialog.get_by_role("button", name="取消").click()
    await expect(dialog).to_be_hidden()
    # confirmed without a reason: the dialog stays open, the reason is required
    await row.get_by_role("button", name="重置配置").click()
    await dialog.get_by_role("button", name="确认").click()
    await expect(dialog).to_be_visible()
    assert len(await _reset_commands(building)) == before
    await dialog.locator("textarea").fill("数据库从备份恢复")
    await dialog.get_by_role("button", name="确认").click()
    outcome = page.get_by_test_id("edge-command")
    await expect(outcome).to_have_attribute("data-status", "ok")
    await expect(outcome).to_contain_text("b1-edge 已接受重置")
    sent = await _reset_commands(building)
    assert len(sent) == before + 1
    assert sent[0]["reason"] == "数据库从备份恢复" and sent[0]["issued_by"] == "manager1"
    assert sent[0]["status"] == "ok"
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await screenshot(page, "installer-reset-config-zh-phone")
    assert page.js_errors == []  # type: ignore[attr-defined]


async def test_an_installer_resets_an_edges_configuration_in_english(
        building: Building, context: BrowserContext) -> None:
    await context.add_cookies([{"name": "lintel_lang", "value": "en", "url": building.hub.url}])
    try:
        page = await logged_in(context, building, "manager1")
        await page.goto(f"{building.hub.url}/manage/installation")
        before = len(await _reset_commands(building))
        row = page.locator("#edges-rows tr", has_text="b1-edge")
        await row.get_by_role("button", name="Reset configuration").click()
        dialog = page.locator("#reason-dialog")
        await expect(dialog.locator("#reason-title")).to_contain_text(
            "Reset b1-edge's configuration?")
        await expect(dialog.locator("label")).to_contain_text("Reason (required")
        await dialog.locator("textarea").fill("hub database restored from backup")
        await dialog.get_by_role("button", name="Confirm").click()
        outcome = page.get_by_test_id("edge-command")
        await expect(outcome).to_have_attribute("data-status", "ok")
        await expect(outcome).to_contain_text(
            "b1-edge takes the hub's current configuration again")
        sent = await _reset_commands(building)
        assert len(sent) == before + 1 and sent[0]["reason"] == "hub database restored from backup"
        await screenshot(page, "installer-reset-config-en")
        assert page.js_errors == []  # type: ignore[attr-defined]
    finally:
        await context.clear_cookies(name="lintel_lang")
