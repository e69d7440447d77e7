"""The property office's monthly readings and a resident's own consumption (issue 18), in
Chinese and English: readings the hub took from its meters become a table per unit, the billing
CSV the page links to, and the resident's page showing their unit only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from hub.meters.models import Meter
from hub.meters.readings import record_meter_readings
from hub.models import Unit
from tests.browser.conftest import logged_in, screenshot
from tests.support.building import Building
from wire.devices import Reading, TelemetryData
from wire.events import TelemetryEvent, new_event_id

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


def _reading(device: str, kwh: float, ts: datetime, seq: int) -> TelemetryEvent:
    return TelemetryEvent(id=new_event_id(), ts=ts, site="demo", edge="b1-edge", device=device,
                          seq=seq, data=TelemetryData(
                              device_type="electricity_meter", model="dlt645-2007",
                              readings=[Reading(name="energy_kwh", value=kwh, unit="kWh")]))


async def _meters(building: Building) -> str:
    """Unit 101 (张伟's) and 102 each have an electricity meter read twice this month."""
    now = datetime.now(UTC)
    month_start = now.astimezone(ZoneInfo("Asia/Shanghai")).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    async with building.hub.sessions() as session, session.begin():
        units = {u.number: u.id for u in await session.scalars(select(Unit))}
        for number, device in (("101", "em-101"), ("102", "em-102")):
            if await session.scalar(select(Meter.id).where(Meter.device == device)) is None:
                session.add(Meter(site_id="demo", unit_id=units[number], kind="electricity",
                                  number=f"000000{number}001", edge="b1-edge", device=device,
                                  installed_at=month_start - timedelta(days=40)))
    async with building.hub.sessions() as session, session.begin():
        first = month_start + (now - month_start) / 4
        await record_meter_readings(session, [
            _reading("em-101", 1200.0, first, 1), _reading("em-101", 1234.5, now, 2),
            _reading("em-102", 80.0, first, 3), _reading("em-102", 90.25, now, 4)])
    return now.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")


@pytest.mark.parametrize("lang", ["zh-CN", "en-GB"])
async def test_the_manager_exports_the_months_readings_and_the_resident_sees_their_own(
        building: Building, browser: Browser, lang: str) -> None:
    month = await _meters(building)
    ctx = await browser.new_context(locale=lang, viewport={"width": 1366, "height": 860})
    ctx.set_default_timeout(10_000)
    zh = lang.startswith("zh")
    try:
        page = await logged_in(ctx, building, "manager1")
        await page.goto(f"{building.hub.url}/manage/meters")
        await expect(page.locator("h1")).to_have_text("月度抄表" if zh else "Monthly meter readings")
        await expect(page.get_by_test_id("meter-month")).to_have_value(month)
        row = page.locator('#meter-table tr[data-unit="101"]')
        await expect(row.locator(".consumption")).to_have_text(
            "34.500 度" if zh else "34.500 kWh")
        await expect(page.locator('#meter-table tr[data-unit="102"] .consumption')).to_contain_text(
            "10.250")
        await screenshot(page, f"meters-manager-{lang}")
        href = await page.get_by_test_id("meter-csv").get_attribute("href")
        assert href is not None
        resp = await page.request.get(f"{building.hub.url}{href}")
        assert resp.status == 200 and resp.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO((await resp.text()).lstrip("\ufeff"))))
        assert [(r["unit"], r["consumption"]) for r in table] == [
            ("101", "34.500"), ("102", "10.250")]
        assert page.js_errors == []  # type: ignore[attr-defined]

        phone = await logged_in(ctx, building, "zhang", phone=True)
        await phone.goto(f"{building.hub.url}/me/meters")
        mine = phone.locator("#my-meter-table tbody tr")
        await expect(mine.first.locator(".consumption")).to_have_text(
            "34.500 度" if zh else "34.500 kWh")
        await expect(phone.locator("#my-meters")).not_to_contain_text("90.25")  # not 102's
        await screenshot(phone, f"meters-resident-{lang}")
        resp = await phone.goto(f"{building.hub.url}/manage/meters")
        assert resp is not None and resp.status == 403  # the office's page is not theirs
    finally:
        await ctx.close()
