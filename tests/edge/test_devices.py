"""The device supervisor against real pymodbus simulators: RTU on a pty pair, and TCP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

import pytest

from edge.access.door import DoorStateMachine, SetLock
from edge.config import DeviceConfig
from edge.devices import DeviceSupervisor
from edge.sensors.loader import load_models
from edge.sensors.models import SerialSettings
from simulators.modbus_devices import ModbusDeviceSimulator
from tests.support.waiting import PATIENCE_S, until
from wire.devices import DeviceData, TelemetryData

pytestmark = pytest.mark.integration
MODELS = load_models()
# device id -> (model, transport)
BUILDING = {
    "lift-a": ("elevator-vvvf-a", "tcp"),
    "lift-b": ("elevator-mrl-b", "rtu"),
    "fire-1": ("fire-panel-8z", "rtu"),
    "spr-1": ("pressure-sprinkler-pt", "rtu"),
    "hyd-1": ("pressure-hydrant-pt", "tcp"),
}
PTY_SERIAL = SerialSettings(baudrate=9600, parity="N")  # Linux ptys refuse parity bits


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, DeviceData | TelemetryData, float]] = []

    def __call__(self, device: str, data: DeviceData | TelemetryData) -> None:
        self.events.append((device, data, time.monotonic()))

    def device(self, device: str, event: str | None = None) -> list[DeviceData]:
        return [d for dev, d, _ in self.events if dev == device and isinstance(d, DeviceData)
                and (event is None or d.event == event)]

    def telemetry(self, device: str) -> list[dict[str, object]]:
        return [{r.name: r.value for r in d.readings} for dev, d, _ in self.events
                if dev == device and isinstance(d, TelemetryData)]

    async def wait(self, check: Callable[[], object], timeout: float = PATIENCE_S) -> None:
        await until(check, timeout=timeout, every=0.02)


@contextlib.asynccontextmanager
async def building(recorder: Recorder, fire_doors: Callable[[bool], list[str]] = lambda a: [],
                   interval: float = 0.1) -> AsyncIterator[tuple[DeviceSupervisor,
                                                                dict[str, ModbusDeviceSimulator]]]:
    async with contextlib.AsyncExitStack() as stack:
        sims: dict[str, ModbusDeviceSimulator] = {}
        configs = []
        for dev, (model, transport) in BUILDING.items():
            sim = await stack.enter_async_context(ModbusDeviceSimulator(
                MODELS[model], name=dev, transport=transport,  # type: ignore[arg-type]
                serial=PTY_SERIAL))
            sims[dev] = sim
            configs.append(DeviceConfig.model_validate({
                "id": dev, "model": model, "transport": transport, "port": sim.port,
                "host": "127.0.0.1", "tcp_port": sim.tcp_port, "poll_interval_s": interval,
                "timeout_s": 0.15, "serial": {"parity": "N"}, "offline_after": 2,
                "backoff_min_s": 0.05, "backoff_max_s": 0.2, "telemetry_every_s": 1,
            }))
        sup = await stack.enter_async_context(DeviceSupervisor(configs, recorder, fire_doors))
        yield sup, sims


async def test_every_model_polls_into_typed_telemetry() -> None:
    rec = Recorder()
    async with building(rec) as (_, sims):
        await rec.wait(lambda: all(rec.telemetry(d) for d in BUILDING))
        for dev in BUILDING:
            assert rec.device(dev, "online"), dev
        lift = rec.telemetry("lift-a")[-1]
        assert lift["floor"] == 1 and lift["direction"] == "stopped" and lift["running"] is False
        assert rec.telemetry("lift-b")[-1]["door_state"] == "closed"
        sims["lift-a"].move_elevator(5)
        sims["lift-b"].move_elevator(-1)
        await rec.wait(lambda: rec.telemetry("lift-a")[-1]["floor"] == 5
                       and rec.telemetry("lift-a")[-1]["door_state"] == "open")
        await rec.wait(lambda: rec.telemetry("lift-b")[-1]["floor"] == -1)
        seen = rec.telemetry("lift-a")
        assert any(t["direction"] == "up" and t["running"] is True for t in seen)
        assert seen[-1]["trip_count"] == 1
        assert rec.telemetry("spr-1")[-1]["pressure"] == pytest.approx(0.65)
        assert rec.telemetry("hyd-1")[-1]["pressure"] == pytest.approx(675.0)
        zones = rec.telemetry("fire-1")[-1]
        assert [zones[f"zone_{i}"] for i in range(1, 9)] == ["normal"] * 8
        sims["spr-1"].set_pressure(0.31)
        await rec.wait(lambda: rec.telemetry("spr-1")[-1]["pressure"] == pytest.approx(0.31))


async def test_each_fault_code_raises_and_clears_once() -> None:
    rec = Recorder()
    async with building(rec) as (_, sims):
        await rec.wait(lambda: all(rec.telemetry(d) for d in BUILDING))
        for dev, (model, _) in BUILDING.items():
            for fault in MODELS[model].faults:
                sims[dev].fault(fault.code, True)
                await rec.wait(lambda d=dev, c=fault.code: any(e.code == c for e in rec.device(d, "fault_raised")))
                sims[dev].fault(fault.code, False)
                await rec.wait(lambda d=dev, c=fault.code: any(e.code == c for e in rec.device(d, "fault_cleared")))
                await asyncio.sleep(0.25)  # more polls: no repeats
                raised = [e for e in rec.device(dev, "fault_raised") if e.code == fault.code]
                cleared = [e for e in rec.device(dev, "fault_cleared") if e.code == fault.code]
                assert len(raised) == 1 and len(cleared) == 1, (dev, fault.code)
                assert raised[0].text == fault.text_en and raised[0].text_zh == fault.text_zh
                assert raised[0].severity == fault.severity and raised[0].skill == fault.skill


async def test_silent_device_goes_offline_while_others_keep_time() -> None:
    rec = Recorder()
    async with building(rec, interval=0.1) as (sup, sims):
        await rec.wait(lambda: all(rec.device(d, "online") for d in BUILDING))
        for dev in ("lift-b", "lift-a"):  # RTU and TCP
            sims[dev].silent = True
            await rec.wait(lambda d=dev: rec.device(d, "offline"))
            counters = rec.device(dev, "offline")[-1].counters
            assert counters is not None and counters["timeouts"] >= 2
        hyd = sup.devices["hyd-1"].link
        assert hyd is not None
        before = hyd.counters.ok
        await asyncio.sleep(1.0)
        # 10 polls a second, undisturbed by two silent devices: each of their 0.15 s timeouts
        # in its way would cost it polls and make it that late (room left for a loaded machine)
        assert hyd.counters.ok - before >= 7
        assert max(hyd.timing.lateness[-7:]) < 0.1
        for dev in ("lift-b", "lift-a"):
            sims[dev].silent = False
            await rec.wait(lambda d=dev: len(rec.device(d, "online")) == 2, timeout=8)


async def test_garbled_rtu_frame_is_counted_and_polling_continues() -> None:
    rec = Recorder()
    async with building(rec) as (sup, sims):
        await rec.wait(lambda: rec.device("spr-1", "online"))
        link = sup.devices["spr-1"].link
        assert link is not None
        sims["spr-1"].garble(1)
        await rec.wait(lambda: link.counters.crc_errors == 1)
        ok = link.counters.ok
        await rec.wait(lambda: link.counters.ok > ok + 2)
        assert link.counters.timeouts == 0 and not rec.device("spr-1", "offline")


async def test_fire_alarm_releases_egress_doors_and_recalls_elevators_then_reset() -> None:
    rec = Recorder()
    door = DoorStateMachine(unlock_s=1, held_open_s=30)
    relay: list[bool] = []

    def fire_doors(active: bool) -> list[str]:
        actions = door.fire_release(time.monotonic()) if active else door.fire_reset(time.monotonic())
        relay.extend(a.locked for a in actions if isinstance(a, SetLock))
        return ["B1-exit"]

    async with building(rec, fire_doors) as (sup, sims):
        await rec.wait(lambda: all(rec.telemetry(d) for d in BUILDING))
        sims["lift-a"].move_elevator(9)
        await rec.wait(lambda: rec.telemetry("lift-a")[-1]["floor"] == 9)
        sims["fire-1"].zone(3, "fire")
        await rec.wait(lambda: rec.device("fire-1", "life_safety"))
        assert relay == [False] and not door.locked and door.fire_released
        assert ("coil", 0, [True]) in sims["lift-a"].writes
        assert ("coil", 100, [True]) in sims["lift-b"].writes
        detail = rec.device("fire-1", "life_safety")[0].detail or ""
        assert "zone(s) 3" in detail and "B1-exit" in detail and "lift-a" in detail
        await rec.wait(lambda: rec.telemetry("lift-a")[-1]["floor"] == 1
                       and rec.telemetry("lift-a")[-1]["service_mode"] == "fire_recall")
        door.grant(time.monotonic())  # nothing relocks a fire-released door
        await asyncio.sleep(1.2)
        assert door.tick(time.monotonic()) == [] and not door.locked
        sims["fire-1"].reset_panel()
        await rec.wait(lambda: rec.device("fire-1", "life_safety_reset"))
        assert relay == [False, True] and door.locked
        assert ("coil", 0, [False]) in sims["lift-a"].writes
        assert sup.fire_active is False


async def test_floor_access_writes_only_the_residents_floors() -> None:
    rec = Recorder()
    async with building(rec) as (sup, sims):
        await rec.wait(lambda: rec.device("lift-a", "online") and rec.device("lift-b", "online"))
        assert await sup.enable_floors("lift-a", [1, 12], 0.3)
        assert sims["lift-a"].writes[-1] == ("holding", 20, [0, (1 << 0) | (1 << 11)])
        await rec.wait(lambda: sims["lift-a"].writes[-1] == ("holding", 20, [0, 0]))
        assert await sup.enable_floors("lift-b", [-2, 3], 0.3)
        table, address, coils = sims["lift-b"].writes[-1]
        assert (table, address) == ("coil", 0)
        assert [i for i, on in enumerate(coils) if on] == [0, 4]  # B2 and 3F: B2, B1, 1, 2, 3
        await rec.wait(lambda: not any(sims["lift-b"].writes[-1][2]))


async def test_counters_are_reported_periodically_with_reconnects() -> None:
    rec = Recorder()
    async with ModbusDeviceSimulator(MODELS["pressure-hydrant-pt"], name="hyd", transport="tcp") as sim:
        config = DeviceConfig.model_validate({
            "id": "hyd", "model": "pressure-hydrant-pt", "transport": "tcp", "host": "127.0.0.1",
            "tcp_port": sim.tcp_port, "poll_interval_s": 0.1, "timeout_s": 0.1,
            "counters_every_s": 1, "backoff_min_s": 0.05, "backoff_max_s": 0.1,
        })
        async with DeviceSupervisor([config], rec) as sup:
            link = sup.devices["hyd"].link
            assert link is not None
            await rec.wait(lambda: rec.device("hyd", "online"))
            first = rec.device("hyd", "online")[0].counters
            assert first is not None and first["reconnects"] == 0
            sim.silent = True
            await rec.wait(lambda: rec.device("hyd", "offline"))
            await rec.wait(lambda: link.counters.timeouts >= 6)
            sim.silent = False
            await rec.wait(lambda: len(rec.device("hyd", "online")) == 2, timeout=8)
            # pymodbus drops a TCP link that stops answering; the next counters report says so
            n = len(rec.device("hyd", "counters"))
            await rec.wait(lambda: len(rec.device("hyd", "counters")) > n, timeout=15)
            counters = rec.device("hyd", "counters")[-1].counters
            assert counters is not None
            assert counters["polls"] > counters["ok"] > 0 and counters["timeouts"] >= 6
            assert counters["reconnects"] >= 1


def _tcp_config(dev: str, model: str, sim: ModbusDeviceSimulator, interval: float) -> DeviceConfig:
    return DeviceConfig.model_validate({
        "id": dev, "model": model, "transport": "tcp", "host": "127.0.0.1",
        "tcp_port": sim.tcp_port, "poll_interval_s": interval, "timeout_s": 0.5,
        "backoff_min_s": 0.05, "backoff_max_s": 0.2, "telemetry_every_s": 1,
    })


def _telemetry_names(model: str) -> set[str]:
    return {name for reg in MODELS[model].registers if reg.telemetry for name in reg.names()}


async def test_a_device_changed_mid_poll_never_mixes_two_definitions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """fire-1 becomes a hydrant gauge (another model, other registers, another endpoint)
    while it is polled, back and forth: each telemetry is one model's, nothing raises; and a
    poll of the old definition finishing after the switch (pymodbus may swallow the line's
    cancel as a reply lands) is dropped, not read against the new register map."""
    rec = Recorder()
    panel, gauge = "fire-panel-8z", "pressure-hydrant-pt"
    async with (
        ModbusDeviceSimulator(MODELS[panel], name="fire-1", transport="tcp") as panel_sim,
        ModbusDeviceSimulator(MODELS[gauge], name="spr", transport="tcp") as gauge_sim,
    ):
        configs = {panel: _tcp_config("fire-1", panel, panel_sim, 0.05),
                   gauge: _tcp_config("fire-1", gauge, gauge_sim, 0.05)}
        async with DeviceSupervisor([configs[panel]], rec) as sup:
            for model in (gauge, panel, gauge, panel, gauge):
                await rec.wait(lambda: sup.devices["fire-1"].values is not None, timeout=20)
                old = sup.devices["fire-1"]
                assert old.link is not None and old.values is not None
                stale_link, stale_values = old.link, dict(old.values)
                n = len(rec.telemetry("fire-1"))
                await sup.reconcile([configs[model]])
                stale_link.polled(stale_values, 0.01, 0.0)  # the old line's last poll, late
                await rec.wait(lambda n=n, m=model: len(rec.telemetry("fire-1")) > n
                               and set(rec.telemetry("fire-1")[-1]) == _telemetry_names(m),
                               timeout=20)
            assert sup.devices["fire-1"].model.model == MODELS[gauge].model
        kinds = [set(t) for t in rec.telemetry("fire-1")]
        assert kinds and all(k in (_telemetry_names(panel), _telemetry_names(gauge)) for k in kinds)
        device_models = {d.model for dev, d, _ in rec.events if dev == "fire-1"
                         and isinstance(d, TelemetryData)}
        assert device_models == {MODELS[panel].model, MODELS[gauge].model}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
