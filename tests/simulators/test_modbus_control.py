"""The Modbus simulators' control API, driven by `lintel sim` as a user would."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from edge.sensors.loader import load_models
from edge.sensors.models import SerialSettings
from lintel.cli import main
from simulators.control import create_control_app
from simulators.modbus_control import add_device_routes
from simulators.modbus_devices import ModbusDeviceSimulator
from tests.support.services import free_port

pytestmark = pytest.mark.integration
MODELS = load_models()


@pytest.fixture
async def control() -> AsyncIterator[tuple[str, dict[str, ModbusDeviceSimulator]]]:
    async with contextlib.AsyncExitStack() as stack:
        sims = {
            "lift": await stack.enter_async_context(ModbusDeviceSimulator(
                MODELS["elevator-vvvf-a"], name="lift", transport="tcp")),
            "fire": await stack.enter_async_context(ModbusDeviceSimulator(
                MODELS["fire-panel-8z"], name="fire", transport="rtu",
                serial=SerialSettings(parity="N"))),
            "spr": await stack.enter_async_context(ModbusDeviceSimulator(
                MODELS["pressure-sprinkler-pt"], name="spr", transport="rtu",
                serial=SerialSettings(parity="N"))),
        }
        app = create_control_app({})
        add_device_routes(app, sims)
        runner = web.AppRunner(app)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield f"http://127.0.0.1:{port}", sims


async def sim(url: str, *args: str) -> int:
    return await asyncio.to_thread(main, ["sim", "--control", url, *args])


async def test_sim_commands_drive_the_devices(
    control: tuple[str, dict[str, ModbusDeviceSimulator]], capsys: pytest.CaptureFixture[str],
) -> None:
    url, sims = control
    assert await sim(url, "elevator", "--device", "lift", "--floor", "4") == 0
    await asyncio.sleep(0.5)
    assert sims["lift"].raw("floor") == 4
    assert await sim(url, "fault", "--device", "lift", "--code", "Err41") == 0
    assert sims["lift"].raw("fault_code") == 41
    assert await sim(url, "fault", "--device", "lift", "--code", "Err41", "--clear") == 0
    assert sims["lift"].raw("fault_code") == 0
    assert await sim(url, "pressure", "--device", "spr", "--value", "0.05") == 0
    assert sims["spr"].raw("pressure") == 50
    assert await sim(url, "zone", "--device", "fire", "--zone", "3", "fire") == 0
    assert sims["fire"].raw("zone_3") == 1 and sims["fire"].raw("in_alarm") is True
    assert await sim(url, "fire-reset", "--device", "fire") == 0
    assert sims["fire"].raw("zone_3") == 0 and sims["fire"].raw("in_alarm") is False
    assert await sim(url, "silent", "--device", "spr") == 0 and sims["spr"].silent
    assert await sim(url, "silent", "--device", "spr", "--off") == 0 and not sims["spr"].silent
    capsys.readouterr()
    assert await sim(url, "devices") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [d["device"] for d in listed["devices"]] == ["fire", "lift", "spr"]


async def test_bad_requests_are_refused_with_the_reason(
    control: tuple[str, dict[str, ModbusDeviceSimulator]], capsys: pytest.CaptureFixture[str],
) -> None:
    url, sims = control
    assert await sim(url, "fault", "--device", "lift", "--code", "E999") == 1
    assert "has no fault code 'E999'" in capsys.readouterr().err
    assert await sim(url, "zone", "--device", "lift", "--zone", "1") == 1
    assert "lift is not a fire or alarm panel" in capsys.readouterr().err
    assert await sim(url, "zone", "--device", "fire", "--zone", "9") == 1
    assert "zone must be 1..8" in capsys.readouterr().err
    assert await sim(url, "elevator", "--device", "nobody", "--floor", "1") == 1
    assert "no device named 'nobody'" in capsys.readouterr().err
    assert sims["lift"].raw("fault_code") == 0
