"""Doors with their readers and wiring. A door's reader sits on an OSDP line of the door's own
edge, at an address no other reader of that line has."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from hub.cameras.models import Camera
from hub.errors import InvalidInput
from hub.installation.installer import Installer, names
from hub.installation.specs import DoorSpec, merged
from hub.models import (
    AccessGroup,
    AntiPassbackPair,
    Door,
    Edge,
    Lift,
    Line,
    Schedule,
    group_doors,
)
from hub.texts import word

KEY_SET = "(set)"  # what the audit trail keeps of a reader key: never the key
# what of a door the edge's configuration carries (the rest travels in the permissions)
CONFIG_FIELDS = ("label", "line_id", "reader_address", "reader_key", "relay_output",
                 "contact_input", "rex_input", "fail_safe_egress", "unlock_s", "held_open_s",
                 "lift_id")


def door_spec(door: Door) -> dict[str, Any]:
    return {"edge_id": door.edge_id, "site_id": door.site_id, "name": door.name,
            "label": door.label, "line_id": door.line_id, "reader_address": door.reader_address,
            "reader_key": door.reader_key, "relay_output": door.relay_output,
            "contact_input": door.contact_input, "rex_input": door.rex_input,
            "fail_safe_egress": door.fail_safe_egress, "unlock_s": door.unlock_s,
            "held_open_s": door.held_open_s, "lift_id": door.lift_id, "mode": door.mode,
            "unlock_schedule_id": door.unlock_schedule_id, "pin_required": door.pin_required}


def _audited(spec: dict[str, Any]) -> dict[str, Any]:
    return {**spec, "reader_key": None if spec["reader_key"] is None else KEY_SET}


async def _check(inst: Installer, spec: DoorSpec, edge: Edge, door_id: int | None) -> None:
    session = inst.session
    if door_id is None:
        await inst.refuse_taken("name", f"site {edge.site_id!r} already has door {spec.name!r}",
                                select(Door.name).where(Door.site_id == edge.site_id,
                                                        Door.name == spec.name))
    if spec.line_id is not None:
        line = await inst.reference(Line, spec.line_id, "line", "line_id")
        if line.edge_id != edge.id:
            raise InvalidInput("line_id", f"line {line.name!r} is on another edge than the "
                               f"door's ({edge.name!r})", "invalid.other_edge",
                               thing=word("thing.line", "line"), name=line.name, edge=edge.name)
        if line.protocol != "osdp":
            raise InvalidInput("line_id", f"line {line.name!r} speaks {line.protocol}; a "
                               "reader needs an osdp line", "invalid.line_protocol",
                               line=line.name, protocol=line.protocol, wanted="osdp")
        taken = select(Door.name).where(Door.line_id == line.id,
                                        Door.reader_address == spec.reader_address)
        if door_id is not None:
            taken = taken.where(Door.id != door_id)
        await inst.refuse_taken("reader_address", f"line {line.name!r} already has a reader "
                                f"at address {spec.reader_address}", taken)
    if spec.lift_id is not None:
        lift = await inst.reference(Lift, spec.lift_id, "lift", "lift_id")
        if lift.edge_id != edge.id:
            raise InvalidInput("lift_id", f"lift {lift.name!r} is driven by another edge than "
                               f"the door's ({edge.name!r})", "invalid.other_edge",
                               thing=word("thing.lift", "lift"), name=lift.name, edge=edge.name)
    if spec.unlock_schedule_id is not None:
        site = await session.scalar(select(Schedule.site_id)
                                    .where(Schedule.id == spec.unlock_schedule_id))
        if site != edge.site_id:
            raise InvalidInput("unlock_schedule_id",
                               f"no schedule {spec.unlock_schedule_id} in this site",
                               "invalid.unknown", what=word("thing.schedule", "schedule"),
                               key=spec.unlock_schedule_id)


def _apply(door: Door, spec: DoorSpec) -> None:
    for key, value in spec.model_dump(exclude={"site_id", "edge_id", "name"}).items():
        setattr(door, key, value)


async def create_door(inst: Installer, spec: DoorSpec) -> Door:
    edge = await inst.edge(spec.edge_id, spec.site_id)
    await _check(inst, spec, edge, None)
    door = Door(site_id=edge.site_id, edge_id=edge.id, name=spec.name)
    _apply(door, spec)
    inst.session.add(door)
    await inst.session.flush()
    await inst.session.refresh(door, ["edge_row"])
    inst.touch(edge.site_id, edge.id, permissions=True)
    await inst.record("door", door.id, door.name, door.site_id, "create",
                      after=_audited(door_spec(door)))
    return door


async def update_door(inst: Installer, door_id: int, changes: BaseModel) -> Door:
    door = await inst.row(Door, door_id, "door")
    before = door_spec(door)
    current = dict(before)
    given = changes.model_fields_set
    if "mode" in given and getattr(changes, "mode", None) != "unlocked_on_schedule" \
            and "unlock_schedule_id" not in given:
        current["unlock_schedule_id"] = None  # leaving the schedule mode drops its schedule
    spec = merged(DoorSpec, current, changes)
    edge = await inst.edge(door.edge_id, None)
    await _check(inst, spec, edge, door.id)
    _apply(door, spec)
    await inst.session.flush()
    after = door_spec(door)
    # the label, mode, unlock schedule and card + PIN travel in the permission snapshot
    inst.touch(door.site_id, door.edge_id, permissions=True)
    if all(before[k] == after[k] for k in CONFIG_FIELDS):
        inst.edges[door.site_id].discard(door.edge_id)  # nothing of its configuration moved
    await inst.record("door", door.id, door.name, door.site_id, "update", _audited(before),
                      _audited(after))
    return door


async def delete_door(inst: Installer, door_id: int) -> None:
    door = await inst.row(Door, door_id, "door")
    session = inst.session
    inst.refuse_in_use(f"door {door.name!r}", {
        "access groups": await names(session, select(AccessGroup.name).join(
            group_doors, group_doors.c.group_id == AccessGroup.id).where(
            group_doors.c.door_id == door.id)),
        "anti-passback pairs": await names(session, select(AntiPassbackPair.name).where(
            (AntiPassbackPair.entry_door_id == door.id)
            | (AntiPassbackPair.exit_door_id == door.id))),
        "cameras": await names(session, select(Camera.name).where(Camera.door_id == door.id)),
    })
    before = _audited(door_spec(door))
    await session.delete(door)
    await session.flush()
    inst.touch(door.site_id, door.edge_id, permissions=True)
    await inst.record("door", door_id, door.name, door.site_id, "delete", before=before)


__all__ = ["KEY_SET", "create_door", "delete_door", "door_spec", "update_door"]
