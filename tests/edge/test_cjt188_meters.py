"""CJ/T 188 water meters on the edge: a riser on a pty (the CJ/T 188 simulator) read by the
meter supervisor from a `cjt188` line in the configuration, each meter's volume as a water
meter's telemetry, a silent meter offline, the 00:00 billing reading."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from pydantic import ValidationError

from edge.drivers.cjt188 import HOT_WATER
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
    # the billing read's own readings: a regular poll may land after it on a loaded machine
    billed = {d: {r.name: (r.value, r.unit) for r in e.readings} for d, e in emitted
              if isinstance(e, TelemetryData) and any(r.name == "billing" for r in e.readings)}
    assert set(billed) == {"w-100", "w-101"}  # w-102 is silent
    assert billed["w-100"]["volume_m3"] == (12.34, "m3")
    assert billed["w-101"]["billing"][0] is True
    assert all(e.device_type == "water_meter" and e.model == "cjt188-2004"
               for _, e in emitted if isinstance(e, TelemetryData))
    assert sim.garbled_seen == 0 and meters[0].reads >= 2
    missed = [(d, e.device_type, e.code) for d, e in emitted
              if isinstance(e, DeviceData) and e.event == "fault_raised"]
    assert missed == [("w-102", "water_meter", "BILLING_READ_MISSED")]


async def test_a_hot_water_meter_is_read_by_its_own_type_beside_a_cold_one() -> None:
    """One riser, a cold meter and a domestic hot water meter (type 11): the configuration's
    `hot_water` reads the hot one with its type; the same meter configured as cold water is
    asked with type 10 and, as a real meter, does not answer (a timeout, never a wrong volume)."""
    cold = WaterMeter("11000000000101", volume_m3=Decimal("30.00"))
    hot = WaterMeter("11000000000201", meter_type=HOT_WATER, volume_m3=Decimal("8.25"))
    emitted: list[tuple[str, DeviceData | TelemetryData]] = []
    with WaterMeterLineSimulator([cold, hot]) as sim:
        lines = [SerialLine(id="water-riser", port=sim.port, protocol="cjt188")]
        config = [WireMeter(id="w-101", line="water-riser", address=cold.address,
                            interval_s=1, retry_s=0.1),
                  WireMeter(id="hw-101", line="water-riser", address=hot.address,
                            kind="hot_water", interval_s=1, retry_s=0.1),
                  WireMeter(id="hw-as-cold", line="water-riser", address=hot.address[:-1] + "2",
                            interval_s=1, retry_s=0.1)]
        hot_as_cold = WaterMeter(config[2].address, meter_type=HOT_WATER)
        sim.meters[hot_as_cold.address] = hot_as_cold
        async with MeterSupervisor([], lambda d, e: emitted.append((d, e))) as supervisor:
            await supervisor.reconcile(lines, config)
            asked_as_cold = supervisor.lines[0].meters["hw-as-cold"].counters
            async with asyncio.timeout(15):
                while not ({d for d, e in emitted if isinstance(e, TelemetryData)}
                           >= {"w-101", "hw-101"} and asked_as_cold.timeouts >= 2):
                    await asyncio.sleep(0.02)
    volumes = {d: {r.name: r.value for r in e.readings}["volume_m3"] for d, e in emitted
               if isinstance(e, TelemetryData)}
    assert volumes["w-101"] == 30.0 and volumes["hw-101"] == 8.25
    assert "hw-as-cold" not in volumes and hot_as_cold.reads == 0
    assert sim.garbled_seen == 0


def test_a_meters_address_must_fit_its_lines_protocol() -> None:
    line = SerialLine(id="water-riser", port="/dev/ttyUSB1", protocol="cjt188")
    with pytest.raises(ValidationError, match="a cjt188 meter's address is 14 digits"):
        ConfigContent(site="s", edge="e", lines=[line], meters=[
            WireMeter(id="w1", line="water-riser", address="000000000101")])
    ConfigContent(site="s", edge="e", lines=[line], meters=[
        WireMeter(id="w1", line="water-riser", address="11000000000101")])
    with pytest.raises(ValidationError, match="a cjt188 line reads water or hot_water meters, "
                                              "not electricity"):
        ConfigContent(site="s", edge="e", lines=[line], meters=[
            WireMeter(id="w1", line="water-riser", address="11000000000101",
                      kind="electricity")])
    ConfigContent(site="s", edge="e", lines=[line], meters=[
        WireMeter(id="w1", line="water-riser", address="11000000000101", kind="hot_water")])
