"""Unit alarms at the edge against the pymodbus alarm-panel simulator on a pty (RS-485)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.devices import DeviceSupervisor
from edge.homesec import HomeSecurity
from edge.sensors.loader import load_models
from edge.sensors.models import DeviceModel, SerialSettings
from simulators.modbus_devices import ModbusDeviceSimulator
from wire.config import DeviceConfig
from wire.devices import DeviceData, TelemetryData
from wire.homesec import HomeSecurityData

pytestmark = pytest.mark.integration
MODEL = load_models()["alarm-panel-8z"]


class Seen:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def __call__(self, device: str, data: object) -> None:
        self.events.append((device, data))

    def homesec(self) -> list[HomeSecurityData]:
        return [d for _, d in self.events if isinstance(d, HomeSecurityData)]

    def kinds(self) -> list[tuple[str, str | None]]:
        return [(d.event, d.alarm) for d in self.homesec()]

    async def wait(self, check: Callable[[], object], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, f"timed out; seen {self.kinds()}"
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def unit(seen: Seen, state: Path | None = None, schedule: list[dict[str, object]] | None = None,
               local: Callable[[], datetime] = lambda: datetime.now(UTC),
               model: DeviceModel = MODEL
               ) -> AsyncIterator[tuple[HomeSecurity, ModbusDeviceSimulator]]:
    async with contextlib.AsyncExitStack() as stack:
        sim = await stack.enter_async_context(ModbusDeviceSimulator(
            model, name="panel-101", serial=SerialSettings(baudrate=9600, parity="N")))
        cfg = DeviceConfig.model_validate({
            "id": "panel-101", "model": model.model, "transport": "rtu", "port": sim.port,
            "poll_interval_s": 0.05, "timeout_s": 0.15, "offline_after": 2,
            "backoff_min_s": 0.05, "backoff_max_s": 0.2,
            "security": {"unit": "1-101", "floor": 1, "exit_delay_s": 0.3,
                         "entry_delay_s": 0.5, "schedule": schedule or []}})
        homesec = await stack.enter_async_context(HomeSecurity(seen, state, time.monotonic, local))
        homesec.reconcile([(cfg, model)])

        def zones(device: str, states: dict[int, str] | None) -> None:
            if states is None:
                homesec.panel_lost(device)
            else:
                homesec.zones_polled(device, states)
        await stack.enter_async_context(DeviceSupervisor([cfg], seen, zone_states=zones))
        await seen.wait(lambda: homesec.units["panel-101"].polled)
        yield homesec, sim


async def test_armed_away_the_front_door_left_undisarmed_is_an_intrusion_from_the_panel() -> None:
    seen = Seen()
    async with unit(seen) as (homesec, sim):
        assert homesec.arm("panel-101", "away", "resident") == (True, "arming away: exit delay 0.3 s")
        await seen.wait(lambda: ("armed", None) in seen.kinds())
        sim.zone(1, "active")
        await seen.wait(lambda: ("alarm", "intrusion") in seen.kinds())
        assert seen.kinds() == [("exit_delay", None), ("armed", None), ("entry_delay", None),
                                ("alarm", "intrusion")]
        alarm = seen.homesec()[-1]
        assert (alarm.unit, alarm.zone, alarm.zone_en) == ("1-101", 1, "Front door")


async def test_an_open_window_refuses_the_arm_naming_it() -> None:
    seen = Seen()
    async with unit(seen) as (homesec, sim):
        sim.zone(3, "active")
        await seen.wait(lambda: 3 in homesec.units["panel-101"].active)
        done, why = homesec.arm("panel-101", "away", "resident")
        assert not done and "zone 3 (Bedroom window) is open" in why
        assert seen.kinds() == [("arm_refused", None)]


async def test_the_zones_are_never_telemetry_and_a_tamper_is_a_fault() -> None:
    seen = Seen()
    async with unit(seen) as (_, sim):
        sim.zone(4, "active")  # motion inside, disarmed: nothing leaves the unit
        sim.fault("TAMPER")
        await seen.wait(lambda: any(isinstance(d, DeviceData) and d.code == "TAMPER"
                                    for _, d in seen.events))
        readings = {r.name for _, d in seen.events if isinstance(d, TelemetryData)
                    for r in d.readings}
        assert readings == {"battery_v"}
        assert seen.homesec() == []


async def test_the_arm_state_survives_a_restart_and_the_schedule_arms(tmp_path: Path) -> None:
    seen = Seen()
    state = tmp_path / "homesec.json"
    # a Monday at 23:00, the site's time: the schedule arms stay
    monday = datetime(2026, 12, 7, 23, 0, 30, tzinfo=UTC)
    async with unit(seen, state, schedule=[{"days": [1], "at": "23:00", "mode": "stay"}],
                    local=lambda: monday):
        await seen.wait(lambda: ("armed", None) in seen.kinds())
        assert seen.homesec()[0].by == "schedule" and seen.homesec()[-1].mode == "stay"
    seen = Seen()
    async with unit(seen, state) as (homesec, sim):
        assert homesec.units["panel-101"].mode == "stay"
        sim.zone(2, "active")  # the balcony door, armed in stay
        await seen.wait(lambda: ("alarm", "intrusion") in seen.kinds())


async def test_a_second_panel_model_is_judged_alike_from_its_own_register_map() -> None:
    """alarm-panel-16e: input registers at 256, unit 20, ELK zone nibbles (2 normal, 9
    violated, 5 trouble), 16 zones: nothing but the model file differs for the edge."""
    seen = Seen()
    model = load_models()["alarm-panel-16e"]
    async with unit(seen, model=model) as (homesec, sim):
        assert sim.unit_id == 20 and sim.tables["input"][256:272] == [2] * 16
        assert homesec.units["panel-101"].active == set()  # EOL closed loops read normal
        sim.zone(4, "active")  # the master bedroom window
        await seen.wait(lambda: 4 in homesec.units["panel-101"].active)
        done, why = homesec.arm("panel-101", "away", "resident")
        assert not done and "zone 4 (Master bedroom window) is open" in why
        sim.zone(4, "normal")
        await seen.wait(lambda: not homesec.units["panel-101"].active)
        assert homesec.arm("panel-101", "away", "resident")[0]
        await seen.wait(lambda: ("armed", None) in seen.kinds())
        sim.zone(1, "active")  # the entry: the entry delay, then the intrusion
        await seen.wait(lambda: ("alarm", "intrusion") in seen.kinds())
        sim.zone(11, "active")  # gas, a 24-hour zone
        await seen.wait(lambda: ("alarm", "gas") in seen.kinds())
        gas = seen.homesec()[-1]
        assert (gas.zone, gas.zone_zh, gas.zone_kind) == (11, "厨房燃气", "gas")
        sim.zone(7, "tamper")  # a cut loop: not an intrusion, not normal
        sim.fault("TAMPER")  # the box opened: bit 1 of the trouble word
        await seen.wait(lambda: any(isinstance(d, DeviceData) and d.code == "TAMPER"
                                    for _, d in seen.events))
        assert sim.raw("system_trouble") == 0b10


async def test_a_zones_cut_loop_is_the_panels_fault_until_it_reads_again() -> None:
    seen = Seen()
    async with unit(seen) as (homesec, sim):
        sim.zone(3, "tamper")  # the bedroom window's loop cut
        await seen.wait(lambda: any(isinstance(d, DeviceData) and d.code == "ZONE_TAMPER"
                                    for _, d in seen.events))
        raised = next(d for _, d in seen.events if isinstance(d, DeviceData)
                      and d.code == "ZONE_TAMPER")
        assert (raised.event, raised.skill, raised.detail) == ("fault_raised", "security",
                                                               "zones 3")
        assert raised.text_zh == "报警防区被破坏（回路断开或短路）：卧室窗（3）"
        assert 3 not in homesec.units["panel-101"].active  # not an opening: no intrusion
        sim.zone(3, "normal")
        await seen.wait(lambda: any(isinstance(d, DeviceData) and d.code == "ZONE_TAMPER"
                                    and d.event == "fault_cleared" for _, d in seen.events))
        assert seen.homesec() == []
