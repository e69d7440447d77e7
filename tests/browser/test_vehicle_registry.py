"""The vehicle registry in Debian's Chromium (issue 17), against the hub and the edge's lane:
the manager registers a household's car (the lane then opens for it), changes and removes it,
blocks and unblocks a plate and checks a CSV import, each refusal in the reader's language;
the resident issues a visitor-car pass on their phone page and the lane lets that car in once."""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import select

from harness.services import free_port
from hub.models import Edge
from hub.service import Hub
from hub.vehicles.models import Lane, VehicleSiteSettings
from simulators.lpr import push_plate
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, _users, logged_in, screenshot
from tests.support.building import Building, broker, demo_building

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]
SECRET = "registry-lane-secret"
DIGEST = hashlib.sha256(SECRET.encode()).hexdigest()
WORDS = {
    "zh": {"taken": "已登记", "plate": "不是有效车牌", "blocked_twice": "已存在",
           "import_bad": "没有房屋 999", "removed": "已删除",
           "le": "不能大于 1", "saved": "已保存", "pick": "请从列表中选择住户的房号"},
    "en": {"taken": "is already registered", "plate": "is not a plate",
           "blocked_twice": "already exists", "import_bad": "The file was refused",
           "removed": "Removed", "le": "must be at most 1", "saved": "Saved",
           "pick": "Choose the household's unit from the list"},
}


async def _registry(hub: Hub) -> None:
    await _users(hub)
    async with hub.sessions() as session, session.begin():
        edge = await session.scalar(select(Edge).where(Edge.name == "b1-edge"))
        assert edge is not None
        session.add_all([
            VehicleSiteSettings(site_id="demo", temporary_entry="guard", passback="off",
                                min_confidence=0.85, over_spaces="temporary"),
            Lane(site_id="demo", edge_id=edge.id, name="gate-in", label="东门入口",
                 direction="entry", push_format="vzenith", camera_user="camera",
                 camera_secret_sha256=DIGEST, barrier={"kind": "camera_relay"}),
        ])


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def building(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Building]:
    tmp = tmp_path_factory.mktemp("registry")
    lanes = [{"id": "gate-in", "direction": "entry", "camera_secret_sha256": DIGEST}]
    async with broker("mosquitto") as mqtt_port, demo_building(
        tmp, mqtt_port=mqtt_port, database_url=f"sqlite+aiosqlite:///{tmp / 'hub.db'}",
        publish_debounce_s=0.05, prepare=_registry,
        ready=lambda agent: agent.vehicles.decider.cache is not None,
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


async def opens(b: Building, plate: str, timeout: float = 10.0) -> bool:
    """Push `plate` at gate-in until the barrier opens (the new snapshot may still be on its
    way to the edge); False if it never did. Each refusal is a held car, nothing counted."""
    url = f"http://127.0.0.1:{b.agent.config.lanes_port}/lpr/gate-in"
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        got = await asyncio.to_thread(push_plate, url, plate, secret=SECRET, confidence=0.95,
                                      picture=False)
        assert got.status == 200, got
        if got.opened:
            return True
        await asyncio.sleep(0.3)
    return False


async def decided(b: Building, plate: str) -> list[str]:
    """Why the edge opened for `plate`, each time it did."""
    return [d.reason for d in b.agent.vehicles.decisions if d.plate == plate and d.opens]


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_manager_keeps_the_registry_and_the_lane_follows(
        building: Building, browser: Browser, lang: str, tmp_path: Path) -> None:
    words = WORDS[lang]
    ctx = await browser.new_context(locale="zh-CN" if lang == "zh" else "en-US",
                                    viewport={"width": 1366, "height": 860})
    ctx.set_default_timeout(10_000)
    car = "粤B2345" + ("1" if lang == "zh" else "2")
    try:
        page = await logged_in(ctx, building, "manager1")
        units: list[str] = []  # what the page asks of the site's units
        page.on("request", lambda r: units.append(r.url) if "/api/v1/units" in r.url else None)
        await page.goto(f"{building.hub.url}/manage/vehicles")

        # register 张伟's household's car, its unit searched (a few units asked, not the site's
        # every unit): the lane opens for it as a resident's
        await page.get_by_test_id("add-vehicle").click()
        dialog = page.locator("#vehicle-dialog")
        await dialog.get_by_test_id("vehicle-household").press_sequentially("B1 1")
        choices = dialog.locator("#vehicle-household-choices option")
        await expect(choices.first).to_be_attached()
        assert "B1 101" in await choices.evaluate_all("(os) => os.map((o) => o.value)")
        await dialog.get_by_test_id("vehicle-household").fill("B1 101")
        await dialog.get_by_test_id("vehicle-plate").fill(car)
        await dialog.locator("input[name=note]").fill("二号车")
        await dialog.get_by_test_id("dialog-ok").click()
        await expect(dialog).to_have_count(0)
        row = page.locator(f'#vehicle-rows tr[data-plate="{car}"]')
        await expect(row).to_contain_text("B1 101")
        await expect(row).to_contain_text("二号车")
        assert await opens(building, car)
        assert await decided(building, car) == ["resident"]

        # the list is searched (the plate as people write it, the unit or the note), counted,
        # and exported as it is filtered
        search = page.get_by_test_id("vehicle-search")
        count = page.get_by_test_id("vehicle-count")
        await expect(count).to_have_text("1")
        for found in (f"{car[:2]} {car[2:5].lower()}", "101", "二号"):
            await search.fill("粤Z")  # no such car: the list empties
            await expect(page.locator("#vehicle-rows tr[data-plate]")).to_have_count(0)
            await expect(count).to_have_text("0")
            await search.fill(found)
            await expect(count).to_have_text("1")
            await expect(row).to_have_count(1)
        async with page.expect_download() as download:
            await page.get_by_test_id("vehicle-export").click()
        exported = Path(await (await download.value).path()).read_text(encoding="utf-8-sig")
        assert car in exported and "B1 101" in exported and "二号车" in exported, exported
        await search.fill("")
        await expect(row).to_have_count(1)

        # the same plate again: refused in the reader's language, the dialog stays open
        await page.get_by_test_id("add-vehicle").click()
        await dialog.get_by_test_id("vehicle-household").fill("B9 999")  # no such unit
        await dialog.get_by_test_id("vehicle-plate").fill(car)
        await dialog.get_by_test_id("dialog-ok").click()
        await expect(dialog.locator(".error-text")).to_contain_text(words["pick"])
        await dialog.get_by_test_id("vehicle-household").fill("B1 102")
        await dialog.get_by_test_id("dialog-ok").click()
        await expect(dialog.locator(".error-text")).to_contain_text(words["taken"])
        await dialog.get_by_test_id("vehicle-plate").fill("?!")
        await dialog.get_by_test_id("dialog-ok").click()
        await expect(dialog.locator(".error-text")).to_contain_text(words["plate"])
        await dialog.get_by_test_id("dialog-cancel").click()
        await expect(page.locator("#vehicle-rows tr[data-plate]")).to_have_count(1)
        assert units and all("q=" in u and "limit=" in u for u in units), units

        # changed: registered until a day in the past, the lane no longer opens as resident
        await row.get_by_test_id(f"edit-vehicle-{car}").click()
        await dialog.get_by_test_id("vehicle-until").fill("2020-01-31")
        await dialog.get_by_test_id("dialog-ok").click()
        await expect(dialog).to_have_count(0)
        await expect(row).to_contain_text("2020")
        await screenshot(page, f"vehicle-registry-{lang}")
        # removed, after a confirmation
        await row.get_by_test_id(f"remove-vehicle-{car}").click()
        await page.get_by_test_id("confirm-ok").click()
        await expect(page.locator("#toasts")).to_contain_text(words["removed"])
        await expect(page.locator(f'#vehicle-rows tr[data-plate="{car}"]')).to_have_count(0)

        # a blocked plate, with its reason; blocking it twice is refused in the language
        blocked = "粤E9999" + ("1" if lang == "zh" else "2")
        for attempt in range(2):
            await page.get_by_test_id("block-plate").click()
            block = page.locator("#block-dialog")
            await block.get_by_test_id("blocked-plate").fill(blocked)
            await block.get_by_test_id("blocked-reason").fill("欠费 unpaid")
            await block.get_by_test_id("dialog-ok").click()
            if attempt == 0:
                await expect(block).to_have_count(0)
            else:
                await expect(block.locator(".error-text")).to_contain_text(words["blocked_twice"])
                await block.get_by_test_id("dialog-cancel").click()
        brow = page.locator(f'#blocked-rows tr[data-plate="{blocked}"]')
        await expect(brow).to_contain_text("欠费 unpaid")
        assert not await opens(building, blocked, timeout=1.0)
        await brow.get_by_test_id(f"unblock-{blocked}").click()
        await page.get_by_test_id("confirm-ok").click()
        await expect(brow).to_have_count(0)

        # the site's lane settings: anti-passback refused, a confidence out of range refused in
        # the reader's language and nothing changed
        settings = page.get_by_test_id("vehicle-settings")
        await expect(settings).to_have_attribute("data-loaded", "1")  # the site's values, read
        await expect(page.get_by_test_id("vset-passback")).to_have_value("off")
        await page.get_by_test_id("vset-passback").select_option("refuse")
        await page.get_by_test_id("vset-confidence").evaluate("(e) => { e.value = '1.5'; }")
        await settings.evaluate("(f) => f.noValidate = true")
        await page.get_by_test_id("vset-save").click()
        await expect(page.get_by_test_id("vset-error")).to_contain_text(words["le"])
        got = await building.call("GET", "/vehicle-settings?site_id=demo")
        assert (got["passback"], got["min_confidence"]) == ("off", 0.85)
        await page.get_by_test_id("vset-confidence").fill("0.9")
        await page.get_by_test_id("vset-save").click()
        # saved: the page counts its saves (the toast's words may still show from an earlier one)
        await expect(settings).to_have_attribute("data-saved", "1")
        await expect(page.get_by_test_id("vset-error")).to_have_text("")
        await expect(page.locator("#toasts")).to_contain_text(words["saved"])
        got = await building.call("GET", "/vehicle-settings?site_id=demo")
        assert (got["passback"], got["min_confidence"]) == ("refuse", 0.9)
        await building.call("POST", "/vehicle-settings", {
            "site_id": "demo", "temporary_entry": "guard", "passback": "off",
            "min_confidence": 0.85})

        # the CSV import from the page: a row naming no unit refuses the file, by line
        csv = tmp_path / "vehicles.csv"
        csv.write_text(f"building,unit,plate\nB1,101,粤F1000{lang[0]}\nB1,999,粤F2000{lang[0]}\n",
                       encoding="utf-8")
        form = page.get_by_test_id("vehicle-import")
        await form.locator("input[type=file]").set_input_files(str(csv))
        await form.locator("button[type=submit]").click()
        result = page.get_by_test_id("import-result")
        await expect(result).to_contain_text(words["import_bad"])
        await expect(result.locator("tbody tr")).to_have_count(1)
        await expect(result.locator("tbody tr")).to_contain_text("3")
        # a parking space for a household found the same way (last: a space changes what the
        # lane decides for that household's cars)
        space = page.get_by_test_id("space-form")
        await space.get_by_test_id("space-household").fill("B1 102")
        await space.locator("input[name=code]").fill(f"P-9{lang}")
        await space.locator("button[type=submit]").click()
        await expect(page.locator("#space-rows tr", has_text=f"P-9{lang}")).to_contain_text("B1 102")
        assert all("q=" in u and "limit=" in u for u in units), units
        assert page.js_errors == []  # type: ignore[attr-defined]
    finally:
        await ctx.close()


async def test_the_resident_lets_a_visitors_car_in_from_the_phone(
        building: Building, browser: Browser) -> None:
    ctx = await browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    ctx.set_default_timeout(10_000)
    try:
        page: Page = await logged_in(ctx, building, "zhang", phone=True)
        await page.goto(f"{building.hub.url}/me/vehicles")
        await expect(page.get_by_role("heading", name="访客车辆预约")).to_be_visible()
        # a plate that is not one: refused in Chinese, nothing issued
        await page.get_by_test_id("car-pass-plate").fill("ABC")
        await page.get_by_test_id("issue-car-pass").click()
        await expect(page.get_by_test_id("car-pass-error")).to_contain_text("不是有效车牌")

        visitor = "粤C88881"
        await page.get_by_test_id("car-pass-plate").fill("粤C·88881")
        await page.get_by_test_id("car-pass-uses").fill("1")
        await page.get_by_test_id("issue-car-pass").click()
        row = page.locator(f'#car-pass-rows tr[data-plate="{visitor}"]')
        await expect(row).to_contain_text("0 / 1")
        await expect(row.get_by_test_id("car-pass-state")).to_have_text("有效")
        await screenshot(page, "resident-car-pass-zh")

        # the visitor's car at the gate: let in once, as the resident's visitor
        assert await opens(building, visitor)
        assert await decided(building, visitor) == ["visitor_pass"]
        assert not await opens(building, visitor, timeout=1.0)  # its one entry is spent
        for _ in range(50):  # the hub counts the entry once the edge's event is stored
            await page.reload()
            if "1 / 1" in await row.inner_text():
                break
            await asyncio.sleep(0.2)
        await expect(row).to_contain_text("1 / 1")
        await expect(row.get_by_test_id("car-pass-state")).to_have_text("已用完")

        # another pass, revoked before it is used: the lane does not open for it
        other = "粤C77771"
        await page.get_by_test_id("car-pass-plate").fill(other)
        await page.get_by_test_id("issue-car-pass").click()
        orow = page.locator(f'#car-pass-rows tr[data-plate="{other}"]')
        await expect(orow.get_by_test_id("car-pass-state")).to_have_text("有效")
        page.once("dialog", lambda d: asyncio.ensure_future(d.accept()))
        await orow.get_by_test_id(f"revoke-{other}").click()
        await expect(orow.get_by_test_id("car-pass-state")).to_have_text("已作废")
        await asyncio.sleep(0.5)  # the new snapshot reaches the edge
        assert not await opens(building, other, timeout=1.0)
        assert re.search(r"\S", await page.get_by_test_id("my-vehicle-rows").inner_text())
        assert page.js_errors == []  # type: ignore[attr-defined]
    finally:
        await ctx.close()
