"""A building's riser end to end: DL/T 645 meters on a pty read by the edge's meter line, each
poll published as a telemetry event on the real broker, stored by the hub's ingest into the
meter registry's readings (SQLite and PostgreSQL); a redelivered event is kept once."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from edge.drivers.dlt645 import LineConfig, MeterConfig
from edge.meters import MeterSupervisor
from hub.ingest import Ingest, hub_subscriptions
from hub.meters.models import Meter, MeterReading
from hub.models import Building, Unit, utcnow
from hub.mqtt import MqttClient
from hub.seed import seed_demo
from simulators.dlt645_meters import MeterLineSimulator, SimulatedMeter
from tests.hub.support import dumps, edge_client
from tests.support.services import MosquittoServer
from tests.support.waiting import until
from wire import topics
from wire.devices import DeviceData, TelemetryData
from wire.events import DeviceEvent, TelemetryEvent, new_event_id

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
N = 12  # meters on the riser


async def test_a_riser_of_meters_reaches_the_hubs_readings(
        mosquitto: MosquittoServer, sessions: async_sessionmaker[AsyncSession]) -> None:
    await seed_demo(sessions)
    async with sessions() as session, session.begin():
        building = await session.scalar(select(Building).where(Building.site_id == "demo"))
        assert building is not None
        units = []
        for i in range(N):
            unit = Unit(building_id=building.id, number=f"M{i + 1:02d}", floor=i + 1)
            session.add(unit)
            units.append(unit)
        await session.flush()
        for i, unit in enumerate(units):
            session.add(Meter(site_id="demo", unit_id=unit.id, kind="electricity",
                              number=f"0000000010{i:02d}", edge="b1-edge",
                              device=f"meter-{i:02d}"))
    sims = [SimulatedMeter(f"0000000010{i:02d}", kwh=Decimal("1000") + i, kw=Decimal("3.6"),
                           speed=3600.0) for i in range(N)]
    seq = itertools.count(1)
    outgoing: asyncio.Queue[TelemetryEvent | DeviceEvent] = asyncio.Queue()

    def emit(device: str, data: DeviceData | TelemetryData) -> None:
        common = {"id": new_event_id(), "site": "demo", "edge": "b1-edge", "device": device,
                  "seq": next(seq)}
        if isinstance(data, TelemetryData):
            outgoing.put_nowait(TelemetryEvent(ts=utcnow(), data=data, **common))
        else:
            outgoing.put_nowait(DeviceEvent(ts=utcnow(), data=data, **common))

    hub_mqtt = MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="hub-1",
                          subscriptions=hub_subscriptions("hub"))
    configs = [MeterConfig(name=f"meter-{i:02d}", address=m.address, interval_s=0.3,
                           timeout_s=0.2) for i, m in enumerate(sims)]
    sent: list[TelemetryEvent | DeviceEvent] = []
    with MeterLineSimulator(sims) as line:
        async with (hub_mqtt, Ingest(sessions, hub_mqtt) as ingest,
                    edge_client(mosquitto.host, mosquitto.port) as edge,
                    MeterSupervisor([(LineConfig(port=line.port), configs)], emit)):
            await hub_mqtt.wait_ready(10)
            await edge.wait_ready(10)

            async def stored_per_meter(n: int) -> bool:
                while not outgoing.empty():
                    event = outgoing.get_nowait()
                    sent.append(event)
                    await edge.publish(topics.event("demo", "b1-edge", event.kind),
                                       dumps(event.model_dump(mode="json")), qos=1)
                async with sessions() as session:
                    rows = list(await session.scalars(select(MeterReading.meter_id)))
                return len(rows) >= N * n and len(set(rows)) == N

            await until(lambda: stored_per_meter(2), timeout=30)
            # the broker redelivers one: the hub keeps it once
            again = next(e for e in sent if isinstance(e, TelemetryEvent))
            await edge.publish(topics.event("demo", "b1-edge", "telemetry"),
                               dumps(again.model_dump(mode="json")), qos=1)

            async def all_received() -> bool:
                return ingest.stats.received >= len(sent) + 1

            await until(all_received)
            await ingest.wait_idle()
    async with sessions() as session:
        readings = list(await session.scalars(select(MeterReading).order_by(MeterReading.ts)))
        meters = {m.id: m.number for m in await session.scalars(select(Meter))}
    telemetry = [e for e in sent if isinstance(e, TelemetryEvent)]
    assert len(readings) == len(telemetry)  # one reading per event, the redelivery not twice
    by_meter: dict[str, list[int]] = {}
    for r in readings:
        by_meter.setdefault(meters[r.meter_id], []).append(r.milli)
        assert r.status == "ok"
    for i in range(N):
        values = by_meter[f"0000000010{i:02d}"]
        assert values[0] >= (1000 + i) * 1000 and values == sorted(values)
        assert values[-1] > values[0]  # 3.6 kW with an hour a second: the register grows
