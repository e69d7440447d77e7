"""Telemetry sinks: SQL (query, hourly downsampling under a controlled clock) and InfluxDB's
line protocol into a real VictoriaMetrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from harness.services import VictoriaMetricsServer
from hub.errors import ConfigError
from hub.ingest import Ingest, hub_subscriptions
from hub.models import Device, TelemetryHourly, TelemetryRow
from hub.mqtt import MqttClient
from hub.seed import seed_demo
from hub.service import Hub
from hub.settings import HubSettings, load_settings
from hub.telemetry import (
    DeviceRef,
    Downsampler,
    InfluxTelemetrySink,
    SqlTelemetrySink,
    TelemetryPoint,
    TelemetryQueryUnsupported,
    TelemetryWriteError,
)
from tests.hub.device_support import telemetry_event
from tests.hub.support import count, dumps, edge_client, event_topic
from tests.support.services import MosquittoServer, free_port
from tests.support.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

LIFT = DeviceRef(site="demo", edge="b1-edge", device="lift-1")


def point(name: str, ts: datetime, value: float | str, device: str = "lift-1",
          unit: str | None = None) -> TelemetryPoint:
    return TelemetryPoint(site="demo", edge="b1-edge", device=device, name=name, ts=ts,
                          value=value, unit=unit)


@pytest.fixture
def victoria() -> Iterator[VictoriaMetricsServer]:
    server = VictoriaMetricsServer()
    server.start()
    yield server
    server.cleanup()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


NOW = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)
OLD = datetime(2026, 11, 13, 9, 0, tzinfo=UTC)  # ten days before NOW, on the hour


async def test_sql_sink_queries_newest_first_with_filters(
    sessions: async_sessionmaker[AsyncSession]
) -> None:
    sink = SqlTelemetrySink(sessions)
    await sink.write([point("floor", NOW - timedelta(minutes=m), float(m)) for m in range(5)]
                     + [point("door", NOW, "open"), point("floor", NOW, 9.0, device="lift-2")])
    got = await sink.query(LIFT, None, None, 10)
    assert [(p.name, p.value) for p in got][:2] in ([("floor", 0.0), ("door", "open")],
                                                   [("door", "open"), ("floor", 0.0)])
    assert len(got) == 6 and all(p.device == "lift-1" for p in got)
    floors = await sink.query(LIFT, NOW - timedelta(minutes=3), NOW, 10, name="floor")
    assert [p.value for p in floors] == [1.0, 2.0, 3.0]  # since inclusive, until exclusive
    assert [p.value for p in await sink.query(LIFT, None, None, 2, name="floor")] == [0.0, 1.0]
    assert await sink.query(DeviceRef(site="demo", edge="b1-edge", device="none"),
                            None, None, 10) == []


async def test_downsampling_rolls_whole_old_hours_with_a_controlled_clock(
    sessions: async_sessionmaker[AsyncSession]
) -> None:
    sink = SqlTelemetrySink(sessions)
    clock = Clock(NOW)
    job = Downsampler(sessions, raw_days=7, clock=clock)
    boundary = NOW - timedelta(days=7)  # 12:30 seven days ago: its hour is not yet whole
    await sink.write([
        point("pressure", OLD + timedelta(minutes=10), 1.0, unit="MPa"),
        point("pressure", OLD + timedelta(minutes=20), 2.0, unit="MPa"),
        point("pressure", OLD + timedelta(minutes=50), 6.0, unit="MPa"),
        point("pressure", OLD + timedelta(hours=1, minutes=5), 4.0, unit="MPa"),
        point("door", OLD + timedelta(minutes=15), "open"),  # text: nothing to average
        point("pressure", boundary - timedelta(minutes=20), 8.0, unit="MPa"),
        point("pressure", NOW - timedelta(days=1), 5.0, unit="MPa"),
    ])
    first = await job.downsample_once()
    assert first.cutoff == datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
    assert (first.rows_rolled, first.hours_written) == (5, 2)
    assert await _hours(sessions) == [
        (OLD, 3, 1.0, 6.0, 3.0, "MPa"), (OLD + timedelta(hours=1), 1, 4.0, 4.0, 4.0, "MPa")]
    assert await _raw(sessions) == [boundary - timedelta(minutes=20), NOW - timedelta(days=1)]

    again = await job.downsample_once()  # nothing new is old: nothing changes
    assert (again.rows_rolled, again.hours_written) == (0, 0)

    # a late row for an hour already rolled is merged into it, count-weighted
    await sink.write([point("pressure", OLD + timedelta(minutes=59), 10.0, unit="MPa")])
    late = await job.downsample_once()
    assert (late.rows_rolled, late.hours_written) == (1, 1)
    assert (await _hours(sessions))[0] == (OLD, 4, 1.0, 10.0, 4.75, "MPa")

    clock.now = NOW + timedelta(days=7)  # a week on, everything raw is old
    await job.downsample_once()
    assert await _raw(sessions) == []
    assert len(await _hours(sessions)) == 4
    assert await SqlTelemetrySink(sessions).query(LIFT, None, None, 10) == []


async def _hours(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[object, ...]]:
    async with sessions() as session:
        rows = await session.scalars(select(TelemetryHourly).order_by(TelemetryHourly.hour))
        return [(r.hour, r.count, r.min, r.max, r.avg, r.unit) for r in rows]


async def _raw(sessions: async_sessionmaker[AsyncSession]) -> list[datetime]:
    async with sessions() as session:
        return list(await session.scalars(select(TelemetryRow.ts).order_by(TelemetryRow.ts)))


def test_downsampler_refuses_a_retention_that_is_not_positive(
    sessions: async_sessionmaker[AsyncSession]
) -> None:
    with pytest.raises(ValueError, match="raw_days must be positive"):
        Downsampler(sessions, raw_days=0)


async def test_influx_sink_writes_line_protocol_to_victoria_metrics(
    victoria: VictoriaMetricsServer
) -> None:
    ts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    points = [point("floor", ts, 3.0), point("running", ts, 1.0),
              point("floor", ts + timedelta(seconds=1), 4.0),
              point("pressure", ts, 0.35, device="pump-1", unit="MPa")]
    async with InfluxTelemetrySink(url=victoria.url, token="t", org="lintel",
                                   bucket="telemetry") as sink:
        await sink.write(points)
        with pytest.raises(TelemetryQueryUnsupported, match="does not read back"):
            await sink.query(LIFT, None, None, 10)
    series = victoria.export_until('{__name__=~"telemetry_.*"}', series=3)
    found = {(s["metric"]["__name__"], s["metric"]["device"]):
             list(zip(s["timestamps"], s["values"], strict=True)) for s in series}
    ms = int(ts.timestamp() * 1000)
    assert found == {
        ("telemetry_floor", "lift-1"): [(ms, 3.0), (ms + 1000, 4.0)],
        ("telemetry_running", "lift-1"): [(ms, 1.0)],
        ("telemetry_pressure", "pump-1"): [(ms, 0.35)],
    }
    assert all(s["metric"]["site"] == "demo" and s["metric"]["edge"] == "b1-edge"
               for s in series)


async def test_influx_sink_unreachable_is_a_write_error() -> None:
    async with InfluxTelemetrySink(url=f"http://127.0.0.1:{free_port()}", token="t",
                                   org="lintel", bucket="telemetry", timeout_s=2) as sink:
        with pytest.raises(TelemetryWriteError, match="unreachable"):
            await sink.write([point("floor", NOW, 1.0)])


@pytest.fixture
async def seeded(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    await seed_demo(sessions)
    return sessions


@pytest.fixture
async def influx_ingest(mosquitto: MosquittoServer, victoria: VictoriaMetricsServer,
                        seeded: async_sessionmaker[AsyncSession]) -> AsyncIterator[Ingest]:
    mqtt = MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="hub-1",
                      subscriptions=hub_subscriptions("hub"))
    sink = InfluxTelemetrySink(url=victoria.url, token="t", org="lintel", bucket="telemetry")
    async with sink, mqtt, Ingest(seeded, mqtt, telemetry_sink=sink) as running:
        await mqtt.wait_ready(10)
        yield running


async def test_ingest_sends_telemetry_to_influx_and_keeps_device_state_in_sql(
    mosquitto: MosquittoServer, victoria: VictoriaMetricsServer,
    seeded: async_sessionmaker[AsyncSession], influx_ingest: Ingest
) -> None:
    ts = datetime.now(UTC).replace(microsecond=0)
    event = telemetry_event(1, {"floor": 6, "running": False}, ts=ts)
    async with edge_client(mosquitto.host, mosquitto.port) as edge:
        await edge.wait_ready(10)
        for _ in range(2):
            await edge.publish(event_topic(event), dumps(event), qos=1)

    async def received() -> bool:
        return influx_ingest.stats.received >= 2
    await until(received)
    await influx_ingest.wait_idle()
    series = victoria.export_until('{__name__=~"telemetry_.*"}', series=2)
    found = {s["metric"]["__name__"]: s["values"] for s in series}
    assert found == {"telemetry_floor": [6.0], "telemetry_running": [0.0]}  # once, not twice
    assert await count(seeded, TelemetryRow) == 0
    async with seeded() as session:
        lift = (await session.execute(select(Device))).scalar_one()
    assert lift.telemetry is not None and lift.telemetry["floor"]["value"] == 6


async def test_hub_configured_for_influxdb_writes_there_and_says_it_cannot_query(
    mosquitto: MosquittoServer, victoria: VictoriaMetricsServer, tmp_path: Path
) -> None:
    settings = HubSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/hub.db", mqtt_port=mosquitto.port,
        http_port=0, data_dir=tmp_path, admin_password="correct horse",  # type: ignore[arg-type]
        telemetry_sink="influxdb", influxdb_url=victoria.url, influxdb_org="lintel",
        influxdb_bucket="telemetry", influxdb_token="secret")  # type: ignore[arg-type]
    async with Hub(settings) as hub:
        await seed_demo(hub.sessions)
        event = telemetry_event(1, {"pressure": 0.42}, ts=datetime.now(UTC), device="pump-1",
                                device_type="pressure_sensor", model="demo-pressure")
        async with edge_client(mosquitto.host, mosquitto.port) as edge:
            await edge.wait_ready(10)
            await edge.publish(event_topic(event), dumps(event), qos=1)

        async def stored() -> bool:
            return await count(hub.sessions, Device) == 1
        await until(stored)
        series = victoria.export_until('{__name__="telemetry_pressure"}', series=1)
        assert [s["values"] for s in series] == [[0.42]]
        async with aiohttp.ClientSession(hub.url) as http:
            login = await http.post("/api/v1/auth/login",
                                    json={"username": "admin", "password": "correct horse"})
            auth = {"Authorization": f"Bearer {(await login.json())['token']}"}
            devices = await (await http.get("/api/v1/devices", headers=auth)).json()
            pump = devices["items"][0]["id"]
            resp = await http.get(f"/api/v1/devices/{pump}/telemetry", headers=auth)
            assert resp.status == 501
            state = await (await http.get(f"/api/v1/devices/{pump}", headers=auth)).json()
            assert [(r["name"], r["value"]) for r in state["readings"]] == [("pressure", 0.42)]


def test_influxdb_settings_name_the_missing_key() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(telemetry_sink="influxdb", influxdb_url="http://x:8086",
                      influxdb_org="lintel")
    assert err.value.key == "influxdb_bucket"
    with pytest.raises(ConfigError, match=r"influxdb_url: .*http://"):
        load_settings(telemetry_sink="influxdb", influxdb_url="x:8086", influxdb_org="o",
                      influxdb_bucket="b")
    with pytest.raises(ConfigError, match="telemetry_raw_days"):
        load_settings(telemetry_raw_days=0)
    assert load_settings().telemetry_sink == "sql"


async def test_two_hub_workers_downsampling_at_once_count_each_row_once(
    sessions: async_sessionmaker[AsyncSession]
) -> None:
    await SqlTelemetrySink(sessions).write(
        [point("pressure", OLD + timedelta(minutes=m), float(m)) for m in range(120)])
    jobs = [Downsampler(sessions, raw_days=7, clock=Clock(NOW)) for _ in range(2)]
    results = await asyncio.gather(*(j.downsample_once() for j in jobs), return_exceptions=True)
    # one rolls; the other finds the work taken (PostgreSQL's lock) or, having waited for
    # SQLite's write lock, nothing left; an error would only mean a retry at the next interval
    rolled = [r.rows_rolled for r in results if not isinstance(r, BaseException)]
    assert sum(rolled) == 120, results
    assert [(h[1], h[4]) for h in await _hours(sessions)] == [(60, 29.5), (60, 89.5)]
    assert await _raw(sessions) == []


async def test_influx_away_keeps_telemetry_in_sql_and_the_ingest_moving(
    mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession]
) -> None:
    mqtt = MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="hub-1",
                      subscriptions=hub_subscriptions("hub"))
    sink = InfluxTelemetrySink(url=f"http://127.0.0.1:{free_port()}", token="t", org="lintel",
                               bucket="telemetry", timeout_s=2)
    events = [telemetry_event(i, {"floor": i}, ts=NOW + timedelta(seconds=i)) for i in range(3)]
    async with sink, mqtt, Ingest(seeded, mqtt, telemetry_sink=sink) as ingest:
        await mqtt.wait_ready(10)
        async with edge_client(mosquitto.host, mosquitto.port) as edge:
            await edge.wait_ready(10)
            for event in events:
                await edge.publish(event_topic(event), dumps(event), qos=1)

        async def received() -> bool:
            return ingest.stats.received >= 3
        await until(received)
        await ingest.wait_idle()
    assert await _raw(seeded) == [NOW, NOW + timedelta(seconds=1), NOW + timedelta(seconds=2)]
    assert ingest.stats.dead_letters == 0 and ingest.stats.db_retries == 0
