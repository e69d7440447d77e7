"""CJ/T 188 water meters on the edge: a riser on a pty (the CJ/T 188 simulator) read by the
meter supervisor from a `cjt188` line in the configuration, each meter's volume as a water
meter's telemetry, a silent meter offline, the 00:00 billing reading."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from pydantic import ValidationError

from edge.meters import MeterSupervisor
from simulators.cjt188_meters import WaterMeter, WaterMeterLineSimulator
from wire.config import ConfigContent, SerialLine
from wire.devices import DeviceData, TelemetryData
from wire.meters import MeterConfig as WireMeter

pytestmark = pytest.mark.integration


async def test_a_riser_of_water_meters_reports_each_volume_and_a_silent_meter_offline() -> None:
    meters = [WaterMeter(f"110000000001{i:02d}", volume_m3=Decimal("12.34") + i)
              for i in range(3)]
    emitted: list[tuple[str, DeviceData | TelemetryData]] = []
    with WaterMeterLineSimulator(meters) as sim:
        lines = [SerialLine(id="water-riser", port=sim.port, protocol="cjt188")]
        config = [WireMeter(id=f"w-10{i}", line="water-riser", address=m.address,
                            interval_s=1, retry_s=0.1) for i, m in enumerate(meters)]
        async with MeterSupervisor([], lambda d, e: emitted.append((d, e)),
                                   billing_window_s=0.5) as supervisor:
            assert await supervisor.reconcile(lines, config) == ["w-100", "w-101", "w-102"]
            async with asyncio.timeout(10):
                while len({d for d, e in emitted if isinstance(e, TelemetryData)}) < 3:
                    await asyncio.sleep(0.02)
            meters[2].silent = True
            async with asyncio.timeout(15):
                while not any(isinstance(e, DeviceData) and e.event == "offline"
                              for _, e in emitted):
                    await asyncio.sleep(0.02)
            emitted.clear()
            await supervisor.billing_read()
    readings = {d: {r.name: (r.value, r.unit) for r in e.readings} for d, e in emitted
                if isinstance(e, TelemetryData)}
    assert readings["w-100"]["volume_m3"] == (12.34, "m3")
    assert readings["w-101"]["billing"][0] is True
    assert all(e.device_type == "water_meter" and e.model == "cjt188-2004"
               for _, e in emitted if isinstance(e, TelemetryData))
    assert sim.garbled_seen == 0 and meters[0].reads >= 2
    missed = [(d, e.device_type, e.code) for d, e in emitted
              if isinstance(e, DeviceData) and e.event == "fault_raised"]
    assert missed == [("w-102", "water_meter", "BILLING_READ_MISSED")]


def test_a_meters_address_must_fit_its_lines_protocol() -> None:
    line = SerialLine(id="water-riser", port="/dev/ttyUSB1", protocol="cjt188")
    with pytest.raises(ValidationError, match="a cjt188 meter's address is 14 digits"):
        ConfigContent(site="s", edge="e", lines=[line], meters=[
            WireMeter(id="w1", line="water-riser", address="000000000101")])
    ConfigContent(site="s", edge="e", lines=[line], meters=[
        WireMeter(id="w1", line="water-riser", address="11000000000101")])
