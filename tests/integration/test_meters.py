"""A building's riser of 40 DL/T 645 meters commissioned from the hub (issue 18, meters): the
line and meters go into the edge's signed configuration, the agent starts the line from it,
every meter is read, the 00:00 billing reading closes the day, and the month's CSV comes out of
the hub — real broker, real database, the simulated riser on a pty."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from sqlalchemy import func, select

from edge.agent import EdgeAgent
from edge.config import EdgeConfig
from edge.drivers.cjt188 import HOT_WATER
from hub.credentials.keys import seed_b64
from hub.meters.models import MeterReading
from hub.models import Building as BuildingRow
from hub.models import Unit
from simulators.cjt188_meters import WaterMeter, WaterMeterLineSimulator
from simulators.dlt645_meters import MeterLineSimulator, SimulatedMeter
from tests.support.building import broker, demo_building
from tests.support.services import PostgresServer
from tests.support.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]
METERS = 40


@pytest.mark.parametrize("kind", ["mosquitto+postgres", "amqtt+sqlite"])
async def test_forty_meters_commissioned_from_the_hub_are_read_and_billed_for_the_month(
        tmp_path: Path, kind: str, request: pytest.FixtureRequest) -> None:
    broker_kind, db_kind = kind.split("+")
    if db_kind == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        database_url = server.create_database(f"meters_{secrets.token_hex(4)}")
    else:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    # an hour of load passes every second: the month shows consumption in a test's time
    riser = [SimulatedMeter(f"{201800000000 + i:012d}", kwh=Decimal(1000 + i), kw=Decimal("1.2"),
                            speed=3600.0) for i in range(METERS)]
    async with broker(broker_kind) as mqtt_port, demo_building(
            tmp_path, mqtt_port=mqtt_port, database_url=database_url,
            shared_group="hub" if broker_kind == "mosquitto" else None,
            signing_key=SecretStr(seed_b64(Ed25519PrivateKey.generate()))) as b:
        async with b.hub.sessions() as session, session.begin():
            b1 = await session.scalar(select(BuildingRow).where(BuildingRow.code == "B1"))
            assert b1 is not None
            units = [Unit(building_id=b1.id, number=f"{10 + i // 4}{i % 4 + 1:02d}",
                          floor=10 + i // 4) for i in range(METERS)]
            session.add_all(units)
            await session.flush()
            unit_ids = [u.id for u in units]
        edge = await b.call("POST", "/edges", {"site_id": "demo", "name": "b1-meters",
                                               "building_id": b1.id}, status=201)
        with MeterLineSimulator(riser) as sim:
            line = await b.call("POST", "/lines", {
                "edge_id": edge["id"], "name": "riser", "port": sim.port, "baudrate": 2400,
                "parity": "E", "protocol": "dlt645"}, status=201)
            for i, meter in enumerate(riser):
                await b.call("POST", "/meters", {
                    "site_id": "demo", "unit_id": unit_ids[i], "kind": "electricity",
                    "number": meter.address, "edge": "b1-meters", "device": f"em-{i:02d}",
                    "line_id": line["id"]}, status=201)
            config = EdgeConfig.model_validate({
                "site": "demo", "edge": "b1-meters", "data_dir": str(tmp_path / "meters-edge"),
                "mqtt": {"port": mqtt_port, "username": "b1-meters", "backoff_min_s": 1,
                         "backoff_max_s": 2},
                "hub_keys": b.hub.downlink.public_keys if b.hub.downlink else []})
            async with EdgeAgent(config) as agent:
                # the agent started the line from the hub's configuration, not from its file
                await until(lambda: len(agent.configs.content.meters) == METERS,
                            "the configuration with the riser",
                            timeout=30)
                assert config.installation().meters == []

                async def readings() -> int:
                    async with b.hub.sessions() as session:
                        return int(await session.scalar(
                            select(func.count(func.distinct(MeterReading.meter_id)))) or 0)
                started = time.monotonic()
                await until(lambda: _count(readings, METERS), "all 40 meters read", timeout=120)
                read_s = time.monotonic() - started
                assert all(m.answered >= 1 for m in riser)
                await asyncio.sleep(1.0)  # an hour of load on every meter
                await agent.meters.billing_read()  # what 00:00 does

                async def billed() -> bool:
                    async with b.hub.sessions() as session:
                        return int(await session.scalar(select(func.count()).where(
                            MeterReading.billing.is_(True))) or 0) == METERS
                await until(billed, "the 40 billing readings at the hub", timeout=30)
            month = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
            async with b.http.get(f"{b.api}/meters/consumption", params={
                    "site_id": "demo", "month": month, "format": "csv"}) as resp:
                assert resp.status == 200 and resp.content_type == "text/csv"
                text = await resp.text()
    table = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(table) == METERS, text
    for row in table:
        assert row["kind"] == "electricity" and row["measure"] == "kWh"
        assert row["missing_meters"] == ""
        # opened on the first reading, closed on the billing reading an hour+ of load later
        assert Decimal(row["consumption"]) >= Decimal("1.2"), row
    assert read_s < 30


async def _count(readings: Callable[[], Any], n: int) -> bool:
    return bool(await readings() == n)


async def test_cjt188_water_meters_commissioned_on_their_line_are_read_into_the_hub(
        tmp_path: Path) -> None:
    """A riser of CJ/T 188 water meters (the simulator on a pty) on a `cjt188` line installed
    from the hub, four cold and two domestic hot (meter type 11: a hot meter answers only a
    read of its own type): the edge reads each volume and the hub keeps it as the unit's water
    or hot-water reading, billed and shown in the month's consumption of each; a wrong pairing
    is refused (Mosquitto, SQLite)."""
    cold = [WaterMeter(f"{11000000000100 + i:014d}", volume_m3=Decimal(50 + i),
                       flow_m3_h=Decimal("0.30")) for i in range(4)]
    hot = [WaterMeter(f"{11000000000200 + i:014d}", meter_type=HOT_WATER,
                      volume_m3=Decimal(20 + i), flow_m3_h=Decimal("0.10")) for i in range(2)]
    riser = cold + hot
    async with broker("mosquitto") as mqtt_port, demo_building(
            tmp_path, mqtt_port=mqtt_port,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}",
            signing_key=SecretStr(seed_b64(Ed25519PrivateKey.generate()))) as b:
        async with b.hub.sessions() as session:
            b1 = await session.scalar(select(BuildingRow).where(BuildingRow.code == "B1"))
            assert b1 is not None
            units = list(await session.scalars(select(Unit).where(Unit.building_id == b1.id)
                                               .order_by(Unit.number)))[:4]
        edge = await b.call("POST", "/edges", {"site_id": "demo", "name": "b1-water",
                                               "building_id": b1.id}, status=201)
        with WaterMeterLineSimulator(riser, speed=3600.0) as sim:
            line = await b.call("POST", "/lines", {
                "edge_id": edge["id"], "name": "water-riser", "port": sim.port,
                "baudrate": 2400, "parity": "E", "protocol": "cjt188"}, status=201)
            refused = await b.call("POST", "/meters", {
                "site_id": "demo", "unit_id": units[0].id, "kind": "electricity",
                "number": "000000000101", "edge": "b1-water", "device": "em-x",
                "line_id": line["id"]}, status=422)
            assert refused["detail"][0]["field"] == "line_id"
            assert "an electricity meter needs a dlt645 line" in refused["detail"][0]["reason"]
            for unit, meter in zip(units, cold, strict=True):
                await b.call("POST", "/meters", {
                    "site_id": "demo", "unit_id": unit.id, "kind": "water",
                    "number": meter.address, "edge": "b1-water", "device": f"wm-{unit.number}",
                    "line_id": line["id"]}, status=201)
            for unit, meter in zip(units, hot, strict=False):
                await b.call("POST", "/meters", {
                    "site_id": "demo", "unit_id": unit.id, "kind": "hot_water",
                    "number": meter.address, "edge": "b1-water", "device": f"hw-{unit.number}",
                    "line_id": line["id"]}, status=201)
            config = EdgeConfig.model_validate({
                "site": "demo", "edge": "b1-water", "data_dir": str(tmp_path / "water-edge"),
                "mqtt": {"port": mqtt_port, "username": "b1-water", "backoff_min_s": 1,
                         "backoff_max_s": 2},
                "hub_keys": b.hub.downlink.public_keys if b.hub.downlink else []})
            async with EdgeAgent(config) as agent:
                await until(lambda: len(agent.configs.content.meters) == len(riser),
                            "the configuration with the water riser",
                            timeout=30)

                async def readings() -> int:
                    async with b.hub.sessions() as session:
                        return int(await session.scalar(
                            select(func.count(func.distinct(MeterReading.meter_id)))) or 0)
                await until(lambda: _count(readings, len(riser)),
                            "every water meter read",
                            timeout=60)
                await asyncio.sleep(1.0)  # an hour of flow
                await agent.meters.billing_read()

                async def billed() -> bool:
                    async with b.hub.sessions() as session:
                        return int(await session.scalar(select(func.count()).where(
                            MeterReading.billing.is_(True))) or 0) == len(riser)
                await until(billed, "the billing readings at the hub", timeout=30)
            month = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
            table = await b.call("GET", f"/meters/consumption?site_id=demo&month={month}"
                                        "&kind=water")
            hot_table = await b.call("GET", f"/meters/consumption?site_id=demo&month={month}"
                                            "&kind=hot_water")
    rows = table["items"] if isinstance(table, dict) else table
    assert len(rows) == len(cold), table
    for row in rows:
        assert Decimal(str(row["consumption"])) >= Decimal("0.30"), row
    hot_rows = hot_table["items"] if isinstance(hot_table, dict) else hot_table
    assert sorted(r["meters"] for r in hot_rows) == [[m.address] for m in hot], hot_table
    for row in hot_rows:
        assert row["kind"] == "hot_water" and row["measure"] == "m³", row
        assert Decimal(str(row["consumption"])) >= Decimal("0.10"), row
