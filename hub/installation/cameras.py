"""Cameras an edge watches: a picture source, motion zones, maybe the door whose QR codes it
reads (a door of the same edge)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from hub.cameras.models import Camera
from hub.errors import InvalidInput
from hub.installation.installer import Installer
from hub.installation.specs import CameraSpec, merged
from hub.models import Device, Door, Edge
from hub.texts import word

_PASSWORD = re.compile(r"^([a-z]+://[^:/@]+:)[^@/]*@")


def masked_source(source: str) -> str:
    """rtsp://user:secret@host/… → rtsp://user:***@host/…: shown and audited without it."""
    return _PASSWORD.sub(r"\1***@", source)


def camera_spec(camera: Camera) -> dict[str, Any]:
    return {"edge_id": camera.edge_id, "site_id": camera.site_id, "name": camera.name,
            "label": camera.label, "model": camera.model, "source": camera.source,
            "door_id": camera.door_id, "zones": list(camera.zones or []),
            "floors": list(camera.floors or [])}


def _audited(spec: dict[str, Any]) -> dict[str, Any]:
    return {**spec, "source": masked_source(spec["source"])}


async def _check(inst: Installer, spec: CameraSpec, edge: Edge, camera_id: int | None) -> None:
    if camera_id is None:
        for model, column, kind in ((Camera, Camera.name, "camera"), (Door, Door.name, "door")):
            stmt = select(column).where(model.edge_id == edge.id, column == spec.name)
            await inst.refuse_taken("name", f"edge {edge.name!r} already has a {kind} "
                                    f"{spec.name!r} (events name cameras, doors and devices "
                                    "alike)", stmt)
        await inst.refuse_taken("name", f"edge {edge.name!r} already has a device {spec.name!r}",
                                select(Device.name).where(Device.site_id == edge.site_id,
                                                          Device.edge == edge.name,
                                                          Device.name == spec.name))
    if spec.door_id is not None:
        door = await inst.reference(Door, spec.door_id, "door", "door_id")
        if door.edge_id != edge.id:
            raise InvalidInput("door_id", f"door {door.name!r} is on another edge than the "
                               f"camera's ({edge.name!r})", "invalid.other_edge",
                               thing=word("thing.door", "door"), name=door.name, edge=edge.name)


def _apply(camera: Camera, spec: CameraSpec) -> None:
    camera.label, camera.model, camera.source = spec.label, spec.model, spec.source
    camera.door_id = spec.door_id
    camera.zones = [z.model_dump(mode="json") for z in spec.zones]
    camera.floors = list(spec.floors) or None


async def create_camera(inst: Installer, spec: CameraSpec) -> Camera:
    edge = await inst.edge(spec.edge_id, spec.site_id)
    await _check(inst, spec, edge, None)
    camera = Camera(site_id=edge.site_id, edge_id=edge.id, name=spec.name)
    _apply(camera, spec)
    inst.session.add(camera)
    await inst.session.flush()
    inst.touch(edge.site_id, edge.id)
    await inst.record("camera", camera.id, camera.name, camera.site_id, "create",
                      after=_audited(camera_spec(camera)))
    return camera


async def update_camera(inst: Installer, camera_id: int, changes: BaseModel) -> Camera:
    camera = await inst.row(Camera, camera_id, "camera")
    before = camera_spec(camera)
    spec = merged(CameraSpec, before, changes)
    await _check(inst, spec, await inst.edge(camera.edge_id, None), camera.id)
    _apply(camera, spec)
    await inst.session.flush()
    inst.touch(camera.site_id, camera.edge_id)
    await inst.record("camera", camera.id, camera.name, camera.site_id, "update",
                      _audited(before), _audited(camera_spec(camera)))
    return camera


async def delete_camera(inst: Installer, camera_id: int) -> None:
    camera = await inst.row(Camera, camera_id, "camera")
    before = _audited(camera_spec(camera))
    await inst.session.delete(camera)
    await inst.session.flush()
    inst.touch(camera.site_id, camera.edge_id)
    await inst.record("camera", camera_id, camera.name, camera.site_id, "delete", before=before)


__all__ = ["camera_spec", "create_camera", "delete_camera", "masked_source", "update_camera"]
