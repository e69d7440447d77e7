"""Meters at the hub: registry, readings from telemetry (idempotent, reverse ones flagged), a
replaced meter's month kept continuous, and the monthly CSV for billing — SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.installation.compile import edge_config
from hub.meters.models import MeterReading
from hub.meters.readings import record_meter_readings
from hub.models import Building, Device, Edge, Line, Unit
from hub.workorders.models import WorkOrder
from wire.devices import Reading, TelemetryData
from wire.events import TelemetryEvent, new_event_id

Client = TestClient[Any, Any]
# 2026-11 in Asia/Shanghai (the site's zone) starts 2026-10-31 16:00 UTC
OCT_END = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
NOV = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)


def telemetry(device: str, kwh: float, ts: datetime, seq: int,
              device_type: str = "electricity_meter") -> TelemetryEvent:
    return TelemetryEvent(id=new_event_id(), ts=ts, site="sunrise", edge="edge-b1",
                          device=device, seq=seq, data=TelemetryData(
                              device_type=device_type,  # type: ignore[arg-type]
                              model="dlt645-2007",
                              readings=[Reading(name="energy_kwh", value=kwh, unit="kWh")]))


async def register(client: Client, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    payload = {"site_id": "sunrise", "unit_id": 101, "kind": "electricity", "edge": "edge-b1",
               **body}
    resp = await client.post("/api/v1/meters", json=payload, headers=auth)
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def test_readings_replacement_and_the_monthly_csv(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        b1 = await session.scalar(select(Building.id).where(Building.code == "B1"))
        session.add(Unit(id=102, building_id=b1, number="102", floor=1))
    old = await register(client, auth, number="000000000101", device="meter-101",
                         installed_at="2026-01-01T00:00:00Z")
    other = await register(client, auth, unit_id=102, number="000000000102",
                           device="meter-102", installed_at="2026-01-01T00:00:00Z")
    events = [telemetry("meter-101", 1000.0, OCT_END, 1),  # October's last: the opening
              telemetry("meter-101", 1010.25, NOV + timedelta(days=3), 2),
              telemetry("meter-101", 1009.0, NOV + timedelta(days=4), 3),  # reverse: flagged
              telemetry("meter-101", 1020.5, NOV + timedelta(days=9), 4),  # old meter's last
              telemetry("meter-102", 55.5, NOV + timedelta(days=1), 5),
              telemetry("meter-102", 60.0, NOV + timedelta(days=20), 6),
              telemetry("meter-999", 1.0, NOV, 7)]  # no such meter: telemetry only
    async with sessions() as session, session.begin():
        assert await record_meter_readings(session, events) == 6
    async with sessions() as session, session.begin():  # redelivered: nothing new
        assert await record_meter_readings(session, events) == 0

    # the electrician swaps the meter on the 10th; the new one starts at 3.00
    new = await register(client, auth, number="000000000201", device="meter-101",
                         installed_at="2026-11-10T00:00:00Z", replaces=old["id"])
    async with sessions() as session, session.begin():
        await record_meter_readings(session, [
            telemetry("meter-101", 3.0, NOV + timedelta(days=10), 8),
            telemetry("meter-101", 12.0, NOV + timedelta(days=25), 9),
            telemetry("meter-101", 15.0, datetime(2026, 11, 30, 17, tzinfo=UTC), 10)])  # Dec
        got = await session.scalars(select(MeterReading.meter_id).where(
            MeterReading.ts > NOV + timedelta(days=10), MeterReading.meter_id != other["id"]))
        assert set(got) == {new["id"]}  # the device's readings now go to the new meter

    resp = await client.get(f"/api/v1/meters/{old['id']}/readings", headers=auth)
    body = await resp.json()
    assert [(r["value"], r["status"]) for r in body["items"]] == [
        ("1020.500", "ok"), ("1009.000", "reverse"), ("1010.250", "ok"), ("1000.000", "ok")]
    assert body["measure"] == "kWh"

    resp = await client.get("/api/v1/meters", headers=auth, params={"site_id": "sunrise"})
    listed = {m["number"]: m for m in (await resp.json())["items"]}
    assert set(listed) == {"000000000201", "000000000102"}  # the removed one only on request
    assert listed["000000000201"]["last_reading"] == "15.000"

    resp = await client.get("/api/v1/meters/consumption", headers=auth,
                            params={"site_id": "sunrise", "month": "2026-11"})
    rows = {r["unit"]: r for r in (await resp.json())["items"]}
    # old meter 1000 -> 1020.5 (the reverse reading ignored), new meter 3 -> 12
    assert rows["101"]["consumption"] == "29.500"
    assert rows["101"]["meters"] == ["000000000101", "000000000201"]
    assert rows["102"]["consumption"] == "4.500"  # installed before, first reading in Nov

    resp = await client.get("/api/v1/meters/consumption", headers=auth,
                            params={"site_id": "sunrise", "month": "2026-11", "format": "csv"})
    assert resp.status == 200 and resp.content_type == "text/csv"
    table = list(csv.DictReader(io.StringIO((await resp.text()).lstrip("\ufeff"))))
    assert [(r["unit"], r["consumption"], r["measure"]) for r in table] == [
        ("101", "29.500", "kWh"), ("102", "4.500", "kWh")]
    assert other["id"] != new["id"]


async def test_a_meter_that_cannot_be_is_refused(client: Client, auth: dict[str, str]) -> None:
    await register(client, auth, number="000000000301", device="meter-301")
    for body, field, why in [
        ({"number": "12345", "device": "x"}, "", "12-digit DL/T 645 address"),
        ({"number": "000000000301", "device": "meter-302"}, "number", "is registered"),
        ({"number": "000000000302", "device": "meter-301"}, "device",
         "edge-b1/meter-301 reads meter 000000000301"),
        ({"number": "000000000303", "device": "m", "unit_id": 901}, "unit_id", "no unit 901"),
        ({"number": "000000000304", "device": "m", "replaces": 9999}, "replaces",
         "no meter 9999"),
    ]:
        payload = {"site_id": "sunrise", "unit_id": 101, "kind": "electricity",
                   "edge": "edge-b1", **body}
        resp = await client.post("/api/v1/meters", json=payload, headers=auth)
        text = await resp.text()
        assert resp.status == 422, text
        assert why in text and field in text
    resp = await client.get("/api/v1/meters/consumption", headers=auth,
                            params={"site_id": "sunrise", "month": "2026-13"})
    assert resp.status == 422 and "month" in await resp.text()
    resp = await client.get("/api/v1/meters/99999/readings", headers=auth)
    assert resp.status == 404


async def test_a_water_meters_volume_is_kept_in_cubic_metres(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    meter = await register(client, auth, kind="water", number="WM2026000101", device="wm-101")
    water = [TelemetryEvent(id=new_event_id(), ts=NOV + timedelta(hours=h), site="sunrise",
                            edge="edge-b1", device="wm-101", seq=h, data=TelemetryData(
                                device_type="water_meter", model="water-meter-dn20",
                                readings=[Reading(name="volume_m3", value=v, unit="m³")]))
             for h, v in ((1, 123456.789), (2, 123457.001))]
    async with sessions() as session, session.begin():
        # an electricity reading from that device is not the water meter's register
        assert await record_meter_readings(session, [*water, telemetry("wm-101", 5.0, NOV, 9)]) == 2
    resp = await client.get(f"/api/v1/meters/{meter['id']}/readings", headers=auth)
    body = await resp.json()
    assert body["measure"] == "m³"
    assert [r["value"] for r in body["items"]] == ["123457.001", "123456.789"]


async def test_water_running_all_night_posts_one_notice_to_the_unit(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    leaking = await register(client, auth, kind="water", number="WM2026000201", device="wm-201")
    async with sessions() as session, session.begin():
        b1 = await session.scalar(select(Building.id).where(Building.code == "B1"))
        session.add(Unit(id=103, building_id=b1, number="103", floor=1))
    await register(client, auth, kind="water", unit_id=103, number="WM2026000202",
                   device="wm-202")
    hot = await register(client, auth, kind="hot_water", unit_id=103, number="HW2026000301",
                         device="hw-301")
    midnight = start = datetime(2026, 11, 2, 16, 30, tzinfo=UTC)  # 00:30 on 3 Nov in Shanghai

    def night(device: str, litres_per_hour: list[int]) -> list[TelemetryEvent]:
        total, out = 100.0 + (midnight - start).days, []
        for hour, litres in enumerate(litres_per_hour):
            total += litres / 1000
            out.append(TelemetryEvent(
                id=new_event_id(), ts=midnight + timedelta(hours=hour), site="sunrise",
                edge="edge-b1", device=device, seq=hour, data=TelemetryData(
                    device_type="water_meter", model="water-meter-dn20",
                    readings=[Reading(name="volume_m3", value=round(total, 3), unit="m³")])))
        return out

    running = night("wm-201", [0, 6, 6, 7, 6, 6])  # 00:30 … 05:30, a cistern running
    quiet = night("wm-202", [0, 2, 0, 0, 0, 3])  # a glass of water at 01:30, a shower at 05:30
    dripping = night("hw-301", [0, 3, 3, 3, 3, 3])  # a hot tap left dripping: a leak too
    async with sessions() as session, session.begin():
        await record_meter_readings(session, running + quiet + dripping)
    async with sessions() as session, session.begin():
        await record_meter_readings(session, running)  # redelivered: no second notice
    resp = await client.get("/api/v1/notices", headers=auth, params={"site_id": "sunrise"})
    notices = sorted((n for n in (await resp.json())["items"]
                      if n["source"] == "rule:night_leak"), key=lambda n: n["title"])
    assert [(n["unit_id"], n["title"]) for n in notices] == [
        (hot["unit_id"], "Water kept running all night: meter HW2026000301"),
        (leaking["unit_id"], "Water kept running all night: meter WM2026000201")]
    assert "(31 L)" in notices[1]["body"] and "(15 L)" in notices[0]["body"]
    resp = await client.get("/api/v1/notices", headers={**auth, "Accept-Language": "zh-CN"},
                            params={"site_id": "sunrise"})
    zh = [n for n in (await resp.json())["items"] if n["source"] == "rule:night_leak"
          and "WM2026000201" in n["title"]]
    assert zh[0]["title"] == "夜间持续用水：水表 WM2026000201" and "共 31 升" in zh[0]["body"]
    async with sessions() as session:
        assert await session.scalar(select(WorkOrder.id)) is None  # one night: a notice only

    # the next night too: the leak lasts, a plumbing work order is opened for the meter
    async with sessions() as session, session.begin():
        session.add(Device(site_id="sunrise", edge="edge-b1", name="wm-201",
                           device_type="water_meter", model="water-meter-dn20"))
    midnight += timedelta(days=1)
    async with sessions() as session, session.begin():
        await record_meter_readings(session, night("wm-201", [9, 5, 5, 5, 5, 5]))
    async with sessions() as session:
        order = await session.scalar(select(WorkOrder))
    assert order is not None and order.fault_code == "NIGHT_LEAK" and order.skill == "plumbing"
    assert order.title == "Water running every night: meter WM2026000201"


def billing_reading(kwh: float, ts: datetime, seq: int, billing: bool = True) -> TelemetryEvent:
    """A reading as the edge's meter supervisor sends it (with its `billing` mark at 00:00)."""
    readings = [Reading(name="energy_kwh", value=kwh, unit="kWh")]
    if billing:
        readings.append(Reading(name="billing", value=True))
    return TelemetryEvent(id=new_event_id(), ts=ts, site="sunrise", edge="edge-b1",
                          device="meter-101", seq=seq, data=TelemetryData(
                              device_type="electricity_meter", model="dlt645-2007",
                              readings=readings))


async def test_the_billing_reading_closes_the_month_and_an_impossible_rise_is_flagged(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    meter = await register(client, auth, number="000000000101", device="meter-101",
                           installed_at="2026-01-01T00:00:00Z")
    shanghai_midnight = NOV - timedelta(hours=8)  # 2026-11-01 00:00 in Asia/Shanghai
    dec_midnight = datetime(2026, 11, 30, 16, tzinfo=UTC)
    async with sessions() as session, session.begin():
        await record_meter_readings(session, [
            billing_reading(100.0, shanghai_midnight - timedelta(hours=1), 1, billing=False),
            billing_reading(100.4, shanghai_midnight + timedelta(seconds=5), 2),  # closes Oct
            billing_reading(200.0, NOV + timedelta(days=14), 3, billing=False),
            # 700 kWh in an hour: no flat draws 700 kW; flagged, never billed
            billing_reading(900.0, NOV + timedelta(days=14, hours=1), 4, billing=False),
            billing_reading(300.0, dec_midnight - timedelta(hours=1), 5, billing=False),
            billing_reading(300.6, dec_midnight + timedelta(seconds=5), 6)])  # closes Nov

    resp = await client.get(f"/api/v1/meters/{meter['id']}/readings", headers=auth)
    items = (await resp.json())["items"]
    assert [(r["value"], r["status"], r["billing"]) for r in items] == [
        ("300.600", "ok", True), ("300.000", "ok", False), ("900.000", "impossible", False),
        ("200.000", "ok", False), ("100.400", "ok", True), ("100.000", "ok", False)]

    async def month(which: str) -> dict[str, Any]:
        resp = await client.get("/api/v1/meters/consumption", headers=auth,
                                params={"site_id": "sunrise", "month": which})
        return dict((await resp.json())["items"][0])

    # the hour before midnight is October's; the first day's billing reading closes it
    october, november = await month("2026-10"), await month("2026-11")
    assert (october["start_reading"], october["end_reading"]) == ("100.000", "100.400")
    assert (november["start_reading"], november["end_reading"]) == ("100.400", "300.600")
    assert november["consumption"] == "200.200" and november["missing_meters"] == []


async def test_a_meter_on_a_dlt645_line_goes_into_its_edges_configuration(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        edge = await session.scalar(select(Edge).where(Edge.name == "edge-b1"))
        assert edge is not None
        riser = Line(site_id="sunrise", edge_id=edge.id, name="riser", port="/dev/ttyS3",
                     baudrate=2400, parity="E", stopbits=1, protocol="dlt645")
        panel = Line(site_id="sunrise", edge_id=edge.id, name="panel", port="/dev/ttyS4",
                     baudrate=9600, parity="N", stopbits=1, protocol="modbus")
        session.add_all([riser, panel])
        await session.flush()
        edge_id, riser_id, panel_id = edge.id, riser.id, panel.id
    for line, why in [(panel_id, "line 'panel' speaks modbus; an electricity meter needs a dlt645"),
                      (9999, "no line 9999")]:
        resp = await client.post("/api/v1/meters", headers=auth, json={
            "site_id": "sunrise", "unit_id": 101, "kind": "electricity", "edge": "edge-b1",
            "number": "000000000101", "device": "meter-101", "line_id": line})
        assert resp.status == 422 and why in await resp.text() and "line_id" in await resp.text()
    for kind in ("water", "hot_water"):  # hot water: CJ/T 188 type 11, the same line
        resp = await client.post("/api/v1/meters", headers=auth, json={
            "site_id": "sunrise", "unit_id": 101, "kind": kind, "edge": "edge-b1",
            "number": "W1", "device": "water-101", "line_id": riser_id})
        assert resp.status == 422 and "14-digit CJ/T 188 address" in await resp.text()
        resp = await client.post("/api/v1/meters", headers=auth, json={
            "site_id": "sunrise", "unit_id": 101, "kind": kind, "edge": "edge-b1",
            "number": "11000000000101", "device": "water-101", "line_id": riser_id})
        assert resp.status == 422 and "a water meter needs a cjt188 line" in await resp.text()

    meter = await register(client, auth, number="000000000101", device="meter-101",
                           line_id=riser_id)
    assert meter["line_id"] == riser_id
    async with sessions() as session:
        config = await edge_config(session, edge_id)
    assert [(m.id, m.line, m.address, m.billing, m.kind) for m in config.meters] == [
        ("meter-101", "riser", "000000000101", True, "electricity")]
    # replaced: the edge reads the new meter, not the old one
    await register(client, auth, number="000000000102", device="meter-101b",
                   line_id=riser_id, replaces=meter["id"])
    async with sessions() as session:
        config = await edge_config(session, edge_id)
    assert [m.address for m in config.meters] == ["000000000102"]
    resp = await client.delete(f"/api/v1/lines/{riser_id}", headers=auth)
    assert resp.status == 409 and "000000000102" in await resp.text()
