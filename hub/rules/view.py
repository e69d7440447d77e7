"""An event as the rules see it: a flat map of dotted field names to values.

`site`, `edge`, `device`, `kind`, `id`, `ts` from the envelope; `data.<field>` from the
event's data; for telemetry also `readings.<name>` (the reading's value). An edge's `state`
message is seen as an event of kind `edge` (`data.status`: online / offline).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from wire.devices import DeviceData, TelemetryData
from wire.events import AccessData, AgentData, DoorData
from wire.state import EdgeState

ENVELOPE = ("site", "edge", "device", "kind", "id", "ts")
# data models of the kinds the wire defines now; a kind without one (camera, until that
# branch lands) accepts any data field
KINDS: dict[str, type[BaseModel] | None] = {
    "access": AccessData,
    "door": DoorData,
    "device": DeviceData,
    "telemetry": TelemetryData,
    "agent": AgentData,
    "camera": None,
    "edge": EdgeState,
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
    model = KINDS.get(kind)
    top = rest.split(".", 1)[0]
    if model is not None and top not in model.model_fields:
        return (f"{kind} events have no data field {top!r} "
                f"(they have {', '.join(sorted(model.model_fields))})")
    return None


@dataclass(frozen=True)
class EventView:
    id: str
    kind: str
    site: str
    edge: str
    device: str
    ts: datetime
    fields: dict[str, Any]

    def get(self, path: str) -> tuple[Any, bool]:
        if path in self.fields:
            return self.fields[path], True
        head, _, rest = path.partition(".")
        if head == "data" and "." in rest:  # a nested data field
            value: Any = self.fields.get(f"data.{rest.split('.', 1)[0]}")
            for part in rest.split(".")[1:]:
                if not isinstance(value, dict) or part not in value:
                    return None, False
                value = value[part]
            return value, True
        return None, False

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> EventView:
        """From an event as the ingest stores it (event_log columns, `data` as JSON)."""
        data: dict[str, Any] = row["data"] or {}
        fields: dict[str, Any] = {
            "site": row["site_id"], "edge": row["edge"], "device": row["device"],
            "kind": row["kind"], "id": row["id"], "ts": row["ts"].isoformat(),
        }
        for key, value in data.items():
            fields[f"data.{key}"] = value
        if row["kind"] == "telemetry":
            for reading in data.get("readings") or ():
                fields[f"readings.{reading['name']}"] = reading["value"]
        return cls(id=row["id"], kind=row["kind"], site=row["site_id"], edge=row["edge"],
                   device=row["device"], ts=row["ts"], fields=fields)

    @classmethod
    def of_state(cls, site: str, edge: str, state: EdgeState, received_at: datetime) -> EventView:
        """An edge's state message, timed by its arrival (a will's `ts` is when the edge
        connected, not when it went away)."""
        data = state.model_dump(mode="json")
        fields = {"site": site, "edge": edge, "device": edge, "kind": "edge",
                  "id": f"state:{site}:{edge}:{received_at.isoformat()}",
                  "ts": received_at.isoformat(), **{f"data.{k}": v for k, v in data.items()}}
        return cls(id=fields["id"], kind="edge", site=site, edge=edge, device=edge,
                   ts=received_at, fields=fields)


__all__ = ["ENVELOPE", "KINDS", "EventView", "check_path"]
