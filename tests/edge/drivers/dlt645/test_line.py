"""A DL/T 645 line through a real pty and pyserial, against the simulated riser."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from edge.drivers.dlt645 import (
    Dlt645Line,
    LineConfig,
    MeterConfig,
    MeterError,
    MeterEvent,
    MeterReading,
    MeterStatus,
    check_meters,
)
from simulators.dlt645_meters import MeterLineSimulator, SimulatedMeter

pytestmark = pytest.mark.integration
ALL = ("energy_kwh", "voltage_a_v", "current_a_a", "power_kw")


async def _until(events: list[MeterEvent], pred: object, timeout: float = 5.0) -> None:
    assert callable(pred)
    async with asyncio.timeout(timeout):
        while not pred():
            await asyncio.sleep(0.01)


async def test_each_meter_answers_its_own_reads_and_a_silent_one_costs_only_its_slot() -> None:
    meters = [SimulatedMeter("000000000101", kwh=Decimal("1234.5"), kw=Decimal("3.6"),
                             speed=3600.0),
              SimulatedMeter("000000000102", kwh=Decimal("88.01")),
              SimulatedMeter("000000000103", silent=True)]
    events: list[MeterEvent] = []
    configs = [MeterConfig(name=f"m{m.address[-3:]}", address=m.address, items=ALL,
                           interval_s=0.2, timeout_s=0.15, offline_after=1)
               for m in meters]
    with MeterLineSimulator(meters) as sim:
        async with Dlt645Line(LineConfig(port=sim.port), configs, events.append) as line:
            def readings(name: str) -> list[MeterReading]:
                return [e for e in events if isinstance(e, MeterReading) and e.meter == name]
            await _until(events, lambda: len(readings("m101")) >= 3 and len(readings("m102")) >= 3)
            first, last = readings("m101")[0].values, readings("m101")[-1].values
            assert first["energy_kwh"] >= Decimal("1234.5")
            assert last["energy_kwh"] > first["energy_kwh"]  # 3.6 kW, an hour a second
            assert first["voltage_a_v"] == Decimal("220.0")
            assert first["power_kw"] == Decimal("3.6")
            assert first["current_a_a"] == Decimal("16.364")
            assert readings("m102")[0].values["energy_kwh"] == Decimal("88.01")
            assert readings("m103") == []
            assert line.meters["m103"].counters.timeouts >= 1
            assert line.meters["m101"].counters.timeouts == 0
            # the silent meter is tried less often: it never delays the others' interval much
            assert line.meters["m103"].counters.polls < line.meters["m101"].counters.polls
    assert MeterStatus("m103", False, "m103: no answer (timeout)") not in events  # never online
    assert MeterStatus("m101", True) in events


async def test_garbled_and_error_answers_are_counted_and_the_meter_recovers() -> None:
    meter = SimulatedMeter("000000000201", kwh=Decimal("5"), garble=2,
                           lacks=frozenset({0x02030000}))
    events: list[MeterEvent] = []
    cfg = MeterConfig(name="m201", address=meter.address, items=("energy_kwh",),
                      interval_s=0.05, timeout_s=0.2)
    with MeterLineSimulator([meter]) as sim:
        async with Dlt645Line(LineConfig(port=sim.port), [cfg], events.append) as line:
            await _until(events, lambda: any(isinstance(e, MeterReading) for e in events))
            state = line.meters["m201"]
            assert state.counters.garbled == 2
            assert state.counters.timeouts == 0
            with pytest.raises(MeterError, match="no such data requested"):
                await line._request(state, 0x02030000)
            assert state.counters.errors == 1


async def test_a_meter_that_goes_silent_goes_offline_with_the_reason() -> None:
    meter = SimulatedMeter("000000000301")
    events: list[MeterEvent] = []
    cfg = MeterConfig(name="m301", address=meter.address, interval_s=0.05, timeout_s=0.1,
                      offline_after=2)
    with MeterLineSimulator([meter]) as sim:
        async with Dlt645Line(LineConfig(port=sim.port), [cfg], events.append):
            await _until(events, lambda: MeterStatus("m301", True) in events)
            meter.silent = True
            started = time.monotonic()
            await _until(events, lambda: MeterStatus("m301", False, "m301: no answer (timeout)")
                         in events)
            assert time.monotonic() - started < 2


@pytest.mark.parametrize(("configs", "reason"), [
    ([], "at least one meter"),
    ([MeterConfig(name="a", address="1")], "a: meter address '1' is not 12 decimal digits"),
    ([MeterConfig(name="a", address="000000000001"), MeterConfig(name="b",
                                                                 address="000000000001")],
     "a and b share address 000000000001"),
    ([MeterConfig(name="a", address="000000000001", items=("kwh",))], "unknown data items"),
])
def test_a_line_that_cannot_be_is_refused(configs: list[MeterConfig], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_meters(configs)


async def test_a_missed_reading_is_retried_soon_not_an_interval_later() -> None:
    meter = SimulatedMeter("000000000401", kwh=Decimal("7"), garble=1)
    events: list[MeterEvent] = []
    cfg = MeterConfig(name="m401", address=meter.address, interval_s=3600, retry_s=0.1,
                      timeout_s=0.2)
    with MeterLineSimulator([meter]) as sim:
        async with Dlt645Line(LineConfig(port=sim.port), [cfg], events.append) as line:
            await _until(events, lambda: any(isinstance(e, MeterReading) for e in events))
            assert line.meters["m401"].counters.garbled == 1
            assert line.meters["m401"].counters.polls == 2
