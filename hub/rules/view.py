"""An event as the rules see it: a flat map of dotted field names to values.

`site`, `edge`, `device`, `kind`, `id`, `ts` from the envelope; `data.<field>` from the
event's data; for telemetry also `readings.<name>` (the reading's value). An edge's `state`
message is seen as an event of kind `edge` (`data.status`: online / offline).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache, cached_property
from typing import Any

from pydantic import BaseModel

from wire.devices import DeviceData, TelemetryData
from wire.events import AccessData, AgentData, CameraData, DoorData
from wire.homesec import HomeSecurityData
from wire.state import EdgeState
from wire.vehicles import LaneData, VehicleData

ENVELOPE = ("site", "edge", "device", "kind", "id", "ts")
# the data model of each kind: a rule may name only its fields
KINDS: dict[str, type[BaseModel]] = {
    "access": AccessData,
    "door": DoorData,
    "device": DeviceData,
    "telemetry": TelemetryData,
    "agent": AgentData,
    "camera": CameraData,
    "vehicle": VehicleData,
    "lane": LaneData,
    "edge": EdgeState,
    "homesec": HomeSecurityData,
}


def check_path(kind: str, path: str) -> str | None:
    """Why `path` names no field of a `kind` event, or None when it is fine."""
    if path in ENVELOPE:
        return None
    head, _, rest = path.partition(".")
    if head == "readings":
        if kind != "telemetry":
            return "readings are only in telemetry events"
        return None if rest else "name the reading, e.g. readings.pressure"
    if head != "data" or not rest:
        return (f"unknown field {path!r}: use one of {', '.join(ENVELOPE)}, "
                "data.<field> or readings.<name>")
    model = KINDS[kind]
    top = rest.split(".", 1)[0]
    if top not in model.model_fields:
        return (f"{kind} events have no data field {top!r} "
                f"(they have {', '.join(sorted(model.model_fields))})")
    return None


_ENVELOPE_ATTRS = frozenset({"site", "edge", "device", "kind", "id"})


@cache
def _data_path(path: str) -> tuple[str, tuple[str, ...]] | None:
    """`data.a.b.c` as ("a", ("b", "c")); None for a path outside `data`. Split once per
    path, not at every look of every event."""
    head, _, rest = path.partition(".")
    if head != "data" or not rest:
        return None
    top, _, nested = rest.partition(".")
    return top, tuple(nested.split(".")) if nested else ()


@dataclass(eq=False)  # not frozen: a frozen dataclass's __init__ cost twice as much, per event
class EventView:
    """An event (or edge state) as the rules see it, never changed once made. Every stored
    event some rule watches gets one, and most match no rule: `data.*` and the envelope are
    read straight from the event, and the flat `fields` (a rule's context) are only built for
    those that match."""

    id: str
    kind: str
    site: str
    edge: str
    device: str
    ts: datetime
    data: dict[str, Any]
    known: dict[str, Any] | None = None  # the flat fields, when they are all there is

    @cached_property
    def fields(self) -> dict[str, Any]:
        """Flat: the envelope, `data.<key>` and `readings.<name>`."""
        if self.known is not None:
            return self.known
        fields: dict[str, Any] = {"site": self.site, "edge": self.edge, "device": self.device,
                                  "kind": self.kind, "id": self.id, "ts": self.ts.isoformat()}
        for key, value in self.data.items():
            fields[f"data.{key}"] = value
        if self.kind == "telemetry":
            for reading in self.data.get("readings") or ():
                fields[f"readings.{reading['name']}"] = reading["value"]
        return fields

    def get(self, path: str) -> tuple[Any, bool]:
        data_path = _data_path(path)
        if data_path is not None:
            top, nested = data_path
            if top not in self.data:
                return None, False
            value: Any = self.data[top]
            for part in nested:
                if not isinstance(value, dict) or part not in value:
                    return None, False
                value = value[part]
            return value, True
        if path in _ENVELOPE_ATTRS and self.known is None:
            return getattr(self, path), True
        fields = self.fields
        if path in fields:
            return fields[path], True
        return None, False

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> EventView:
        """From an event as the ingest stores it (event_log columns, `data` as JSON)."""
        return cls(id=row["id"], kind=row["kind"], site=row["site_id"], edge=row["edge"],
                   device=row["device"], ts=row["ts"], data=row["data"] or {})

    @classmethod
    def of_context(cls, context: dict[str, Any], *, kind: str, site: str,
                   ts: datetime) -> EventView:
        """From the flat fields a timer kept (rule_state.context)."""
        data = {k[5:]: v for k, v in context.items() if k.startswith("data.")}
        return cls(id=str(context.get("id", "")), kind=kind, site=site,
                   edge=str(context.get("edge", "")), device=str(context.get("device", "")),
                   ts=ts, data=data, known=context)

    @classmethod
    def of_state(cls, site: str, edge: str, state: EdgeState, received_at: datetime) -> EventView:
        """An edge's state message, timed by its arrival (a will's `ts` is when the edge
        connected, not when it went away)."""
        return cls(id=f"state:{site}:{edge}:{received_at.isoformat()}", kind="edge", site=site,
                   edge=edge, device=edge, ts=received_at, data=state.model_dump(mode="json"))


__all__ = ["ENVELOPE", "KINDS", "EventView", "check_path"]
