"""A water meter (firmware-configs/water-meter-dn20) read over Modbus RTU on a pty: its volume
becomes water_meter telemetry the hub bills from, its status bits faults."""

from __future__ import annotations

import asyncio

import pytest

from edge.config import DeviceConfig
from edge.devices import DeviceSupervisor
from edge.sensors.loader import load_models
from edge.sensors.models import SerialSettings
from simulators.modbus_devices import ModbusDeviceSimulator
from wire.devices import DeviceData, TelemetryData

pytestmark = pytest.mark.integration


async def test_a_water_meter_reports_its_volume_and_a_tamper_fault() -> None:
    model = load_models()["water-meter-dn20"]
    events: list[tuple[str, DeviceData | TelemetryData]] = []
    async with ModbusDeviceSimulator(model, name="wm-101", transport="rtu",
                                     serial=SerialSettings(baudrate=9600, parity="N")) as sim:
        sim.set("volume_m3", 123456.789)  # beyond 16 bits: both words are read
        config = DeviceConfig.model_validate({
            "id": "wm-101", "model": model.model, "transport": "rtu", "port": sim.port,
            "poll_interval_s": 0.1, "timeout_s": 0.2, "telemetry_every_s": 1})
        async with DeviceSupervisor([config], lambda d, e: events.append((d, e))):
            async with asyncio.timeout(15):
                while not any(isinstance(e, TelemetryData) for _, e in events):
                    await asyncio.sleep(0.02)
            sim.set("meter_status", 2)
            async with asyncio.timeout(15):
                while not any(isinstance(e, DeviceData) and e.event == "fault_raised"
                              for _, e in events):
                    await asyncio.sleep(0.02)
    data = next(e for _, e in events if isinstance(e, TelemetryData))
    assert data.device_type == "water_meter"
    volume = {r.name: r for r in data.readings}["volume_m3"]
    assert volume.unit == "m³" and volume.value == pytest.approx(123456.789, abs=0.0005)
    fault = next(e for _, e in events if isinstance(e, DeviceData) and e.event == "fault_raised")
    assert fault.code == "TAMPER" and fault.text_zh == "水表磁干扰报警"
