"""Meters on the edge: a DL/T 645 riser on a pty becomes telemetry and device events."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from edge.drivers.dlt645 import LineConfig, MeterConfig
from edge.meters import MeterSupervisor
from simulators.dlt645_meters import MeterLineSimulator, SimulatedMeter
from wire.config import SerialLine
from wire.devices import DeviceData, TelemetryData
from wire.meters import MeterConfig as WireMeter

pytestmark = pytest.mark.integration


async def test_a_riser_reports_each_meters_energy_and_a_silent_meter_offline() -> None:
    meters = [SimulatedMeter(f"0000000001{i:02d}", kwh=Decimal("1234.5") + i) for i in range(3)]
    emitted: list[tuple[str, DeviceData | TelemetryData]] = []
    with MeterLineSimulator(meters) as sim:
        configs = [MeterConfig(name=f"meter-1-10{i}", address=m.address,
                               items=("energy_kwh", "power_kw"), interval_s=0.1, timeout_s=0.1,
                               offline_after=1) for i, m in enumerate(meters)]
        async with MeterSupervisor([(LineConfig(port=sim.port), configs)], lambda d, e:
                                   emitted.append((d, e))):
            async with asyncio.timeout(15):
                while len({d for d, e in emitted if isinstance(e, TelemetryData)}) < 3:
                    await asyncio.sleep(0.02)
            meters[2].silent = True
            async with asyncio.timeout(15):
                while not any(isinstance(e, DeviceData) and e.event == "offline"
                              for _, e in emitted):
                    await asyncio.sleep(0.02)
    first = next(e for d, e in emitted if d == "meter-1-100" and isinstance(e, TelemetryData))
    assert first.device_type == "electricity_meter" and first.model == "dlt645-2007"
    energy = {r.name: r for r in first.readings}["energy_kwh"]
    assert energy.unit == "kWh" and Decimal(repr(energy.value)) >= Decimal("1234.50")
    offline = next((d, e) for d, e in emitted if isinstance(e, DeviceData)
                   and e.event == "offline")
    assert offline[0] == "meter-1-102"
    assert offline[1].detail == "meter-1-102: no answer (timeout)"
    assert offline[1].counters is not None and offline[1].counters["timeouts"] >= 1


async def test_the_billing_read_is_retried_reported_when_missed_and_cleared_when_taken() -> None:
    meters = [SimulatedMeter("000000000101", kwh=Decimal("10")),
              SimulatedMeter("000000000102", kwh=Decimal("20"), silent=True)]
    emitted: list[tuple[str, DeviceData | TelemetryData]] = []
    with MeterLineSimulator(meters) as sim:
        lines = [SerialLine(id="riser", port=sim.port, protocol="dlt645")]
        config = [WireMeter(id=f"m{m.address[-3:]}", line="riser", address=m.address,
                            interval_s=3600, retry_s=0.1) for m in meters]
        async with MeterSupervisor([], lambda d, e: emitted.append((d, e)),
                                   billing_window_s=0.5) as supervisor:
            assert await supervisor.reconcile(lines, config) == ["m101", "m102"]
            assert await supervisor.reconcile(lines, config) == []  # unchanged: keeps polling
            before = meters[1].answered
            await supervisor.billing_read()
            faults = [(d, e) for d, e in emitted if isinstance(e, DeviceData)
                      and e.event == "fault_raised"]
            assert [(d, e.code, e.text_zh) for d, e in faults] == [
                ("m102", "BILLING_READ_MISSED", "未能抄读每日结算读数")]
            meters[1].silent = False
            emitted.clear()
            await supervisor.billing_read()
    assert before == 0
    billed = {d: {r.name: r.value for r in e.readings} for d, e in emitted
              if isinstance(e, TelemetryData) and any(r.name == "billing" for r in e.readings)}
    assert billed["m102"]["billing"] is True and billed["m102"]["energy_kwh"] >= 20
    assert set(billed) == {"m101", "m102"}
    assert [(d, e.code) for d, e in emitted if isinstance(e, DeviceData)
            and e.event == "fault_cleared"] == [("m102", "BILLING_READ_MISSED")]


def test_the_billing_reading_falls_at_the_sites_midnight() -> None:
    now = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    supervisor = MeterSupervisor([], lambda d, e: None,
                                 timezone_of_site=lambda: ZoneInfo("Asia/Shanghai"),
                                 clock=lambda: now)
    assert supervisor.next_midnight() == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
