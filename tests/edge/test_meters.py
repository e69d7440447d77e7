"""Meters on the edge: a DL/T 645 riser on a pty becomes telemetry and device events."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from edge.drivers.dlt645 import LineConfig, MeterConfig
from edge.meters import MeterSupervisor
from simulators.dlt645_meters import MeterLineSimulator, SimulatedMeter
from wire.devices import DeviceData, TelemetryData

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
            async with asyncio.timeout(5):
                while len({d for d, e in emitted if isinstance(e, TelemetryData)}) < 3:
                    await asyncio.sleep(0.02)
            meters[2].silent = True
            async with asyncio.timeout(5):
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
