"""Several Modbus units on one RS-485 line: one bus owner per port, each unit in its own slot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from edge.config import DeviceConfig, parse_config
from edge.devices import DeviceSupervisor
from edge.errors import ConfigError
from edge.sensors.loader import load_models
from edge.sensors.models import SerialSettings
from simulators.modbus_devices import ModbusDeviceSimulator
from simulators.modbus_line import ModbusLineSimulator
from tests.edge.test_devices import Recorder

pytestmark = pytest.mark.integration
MODELS = load_models()
PTY = SerialSettings(baudrate=9600, parity="N")  # Linux ptys refuse parity bits
UNITS = {"lift-a": ("elevator-vvvf-a", 1), "lift-b": ("elevator-mrl-b", 2),
         "spr-1": ("pressure-sprinkler-pt", 3)}


def _device(dev: str, port: str | None, **extra: Any) -> dict[str, Any]:
    model, unit = UNITS[dev]
    return {"id": dev, "model": model, "transport": "rtu", "port": port, "unit_id": unit,
            "serial": {"baudrate": 9600, "parity": "N", "stopbits": 1}, **extra}


@contextlib.asynccontextmanager
async def one_line(rec: Recorder, interval: float = 0.2, timeout: float = 0.15
                   ) -> AsyncIterator[tuple[DeviceSupervisor, dict[str, ModbusDeviceSimulator]]]:
    sims = {dev: ModbusDeviceSimulator(MODELS[model], name=dev, unit_id=unit, serial=PTY)
            for dev, (model, unit) in UNITS.items()}
    async with ModbusLineSimulator(sims.values(), transport="rtu", serial=PTY) as line:
        configs = [DeviceConfig.model_validate(_device(
            dev, line.port, poll_interval_s=interval, timeout_s=timeout, offline_after=2,
            backoff_min_s=0.1, backoff_max_s=0.8, telemetry_every_s=1)) for dev in UNITS]
        async with DeviceSupervisor(configs, rec) as sup:
            yield sup, sims


async def test_every_unit_on_one_line_is_polled_and_written() -> None:
    rec = Recorder()
    async with one_line(rec) as (sup, sims):
        await rec.wait(lambda: all(rec.telemetry(d) for d in UNITS))
        links = {dev: sup.devices[dev].link for dev in UNITS}
        lines = {id(link.line) for link in links.values() if link is not None}
        assert len(lines) == 1  # one bus owner for the port
        sims["lift-a"].move_elevator(4)
        sims["lift-b"].move_elevator(-1)
        await rec.wait(lambda: rec.telemetry("lift-a")[-1]["floor"] == 4
                       and rec.telemetry("lift-b")[-1]["floor"] == -1)
        assert await sup.enable_floors("lift-a", [2], 5)
        assert await sup.enable_floors("lift-b", [2], 5)
        assert sims["lift-a"].writes[-1] == ("holding", 20, [0, 1 << 1])
        assert sims["lift-b"].writes[-1][:2] == ("coil", 0)
        assert sims["spr-1"].writes == []


async def test_a_silent_unit_delays_only_its_own_slot() -> None:
    rec = Recorder()
    interval = 0.2
    async with one_line(rec, interval=interval) as (sup, sims):
        await rec.wait(lambda: all(rec.device(d, "online") for d in UNITS))
        sims["lift-b"].silent = True
        await rec.wait(lambda: rec.device("lift-b", "offline"))
        others = [sup.devices[d].link for d in ("lift-a", "spr-1")]
        assert all(link is not None for link in others)
        before = [link.counters.ok for link in others if link is not None]
        await asyncio.sleep(2.0)
        done = [link.counters.ok - b for link, b in zip(others, before, strict=True)
                if link is not None]
        # 10 slots each in 2 s: the silent unit's timeouts never took the others' slots
        assert all(n >= 9 for n in done), done
        for link in others:
            assert link is not None and link.counters.timeouts == 0
            # one 0.15 s timeout can stand before a slot, never two (scheduling jitter on a
            # loaded 2-core machine reached 0.09 s beyond the one)
            assert max(link.timing.lateness[-9:]) < 2 * 0.15
        silent = sup.devices["lift-b"].link
        assert silent is not None
        # offline, the silent unit is tried less and less often (backoff up to 0.8 s)
        tried = silent.counters.timeouts
        await asyncio.sleep(1.6)
        assert silent.counters.timeouts - tried <= 4
        sims["lift-b"].silent = False
        await rec.wait(lambda: len(rec.device("lift-b", "online")) == 2, timeout=15)


def _edge(devices: list[dict[str, Any]]) -> dict[str, Any]:
    return {"site": "s1", "edge": "e1", "data_dir": "/tmp/x", "devices": devices}


def test_config_takes_several_units_on_one_port_and_refuses_clashes() -> None:
    config = parse_config(_edge([_device("lift-a", "/dev/ttyS1"), _device("lift-b", "/dev/ttyS1")]))
    assert [d.unit_id for d in config.devices] == [1, 2]
    same_unit = [_device("lift-a", "/dev/ttyS1"), {**_device("spr-1", "/dev/ttyS1"), "unit_id": 1}]
    with pytest.raises(ConfigError, match="lift-a and spr-1 share unit id 1 on /dev/ttyS1"):
        parse_config(_edge(same_unit))
    other_speed = [_device("lift-a", "/dev/ttyS1"),
                   {**_device("lift-b", "/dev/ttyS1"), "serial": {"baudrate": 19200}}]
    with pytest.raises(ConfigError, match="different serial settings"):
        parse_config(_edge(other_speed))
    # the same unit id on two lines is no clash
    parse_config(_edge([_device("lift-a", "/dev/ttyS1"),
                        {**_device("spr-1", "/dev/ttyS2"), "unit_id": 1}]))
