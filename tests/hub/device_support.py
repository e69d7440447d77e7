"""Device and telemetry events as an edge sends them, with times the test chooses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from wire import new_event_id

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def device_event(seq: int, event: str, *, ts: datetime, device: str = "lift-1",
                 device_type: str = "elevator", model: str = "demo-lift", site: str = "demo",
                 edge: str = "b1-edge", **data: Any) -> dict[str, Any]:
    return {
        "id": new_event_id(), "ts": ts.isoformat(), "site": site, "edge": edge,
        "device": device, "seq": seq, "kind": "device",
        "data": {"device_type": device_type, "model": model, "event": event, **data},
    }


def telemetry_event(seq: int, readings: dict[str, Any], *, ts: datetime,
                    device: str = "lift-1", device_type: str = "elevator",
                    model: str = "demo-lift", site: str = "demo", edge: str = "b1-edge",
                    units: dict[str, str] | None = None) -> dict[str, Any]:
    units = units or {}
    return {
        "id": new_event_id(), "ts": ts.isoformat(), "site": site, "edge": edge,
        "device": device, "seq": seq, "kind": "telemetry",
        "data": {"device_type": device_type, "model": model,
                 "readings": [{"name": k, "value": v, "unit": units.get(k)}
                              for k, v in readings.items()]},
    }


def elevator_story() -> list[dict[str, Any]]:
    """An elevator's day in nine events: online, readings, counters, faults raised, raised
    again, cleared, raised anew; and a pressure sensor's reading."""
    e01 = {"code": "E01", "severity": "major", "skill": "elevator",
           "text": "Door lock circuit open", "text_zh": "门锁回路断开"}
    return [
        device_event(1, "online", ts=at(0)),
        telemetry_event(2, {"floor": 3, "direction": "up", "running": True}, ts=at(1)),
        device_event(3, "counters", ts=at(2), counters={"polls": 10, "timeouts": 1}),
        device_event(4, "fault_raised", ts=at(3), **e01),
        device_event(5, "fault_raised", ts=at(4), **{**e01, "text": "Door lock circuit open (2)"}),
        device_event(6, "fault_raised", ts=at(5), code="E02", severity="minor",
                     skill="elevator", text="Leveling error", text_zh="平层误差"),
        device_event(7, "fault_cleared", ts=at(6), code="E01"),
        telemetry_event(8, {"floor": 5}, ts=at(7)),
        device_event(9, "fault_raised", ts=at(8), **e01),
        telemetry_event(10, {"pressure": 0.35}, ts=at(9), device="pump-1",
                        device_type="pressure_sensor", model="demo-pressure",
                        units={"pressure": "MPa"}),
    ]
