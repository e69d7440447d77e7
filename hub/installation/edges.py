"""Edges: added by an installer before the box is provisioned (`lintel provision edge`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from hub.cameras.models import Camera
from hub.errors import InvalidInput
from hub.installation.installer import Installer, names
from hub.installation.specs import EdgeSpec, merged
from hub.models import Building, Device, Door, Edge, Lift, Line
from hub.texts import word
from hub.vehicles.models import Lane


def edge_spec(edge: Edge) -> dict[str, Any]:
    return {"site_id": edge.site_id, "name": edge.name, "label": edge.label,
            "building_id": edge.building_id}


async def _check(inst: Installer, spec: EdgeSpec, edge_id: int | None) -> None:
    if spec.building_id is not None:
        building = await inst.session.get(Building, spec.building_id)
        if building is None or building.site_id != spec.site_id:
            raise InvalidInput("building_id",
                               f"unknown building {spec.building_id} in site {spec.site_id!r}",
                               "invalid.unknown", what=word("thing.building", "building"),
                               key=spec.building_id)
    if edge_id is None:
        await inst.refuse_taken("name", f"site {spec.site_id!r} already has edge {spec.name!r}",
                                select(Edge.name).where(Edge.site_id == spec.site_id,
                                                        Edge.name == spec.name))


async def create_edge(inst: Installer, spec: EdgeSpec) -> Edge:
    await inst.site(spec.site_id)
    await _check(inst, spec, None)
    edge = Edge(site_id=spec.site_id, name=spec.name, label=spec.label,
                building_id=spec.building_id, status="unknown")
    inst.session.add(edge)
    await inst.session.flush()
    # a new edge gets its (empty) configuration and permission snapshot at once
    inst.touch(edge.site_id, edge.id, permissions=True)
    await inst.record("edge", edge.id, edge.name, edge.site_id, "create", after=edge_spec(edge))
    return edge


async def update_edge(inst: Installer, edge_id: int, changes: BaseModel) -> Edge:
    edge = await inst.row(Edge, edge_id, "edge")
    before = edge_spec(edge)
    spec = merged(EdgeSpec, before, changes)
    await _check(inst, spec, edge.id)
    edge.label, edge.building_id = spec.label, spec.building_id
    await inst.session.flush()  # neither is in the edge's configuration: nothing to push
    await inst.record("edge", edge.id, edge.name, edge.site_id, "update", before, edge_spec(edge))
    return edge


async def delete_edge(inst: Installer, edge_id: int) -> None:
    edge = await inst.row(Edge, edge_id, "edge")
    session = inst.session
    inst.refuse_in_use(f"edge {edge.name!r}", {
        "lines": await names(session, select(Line.name).where(Line.edge_id == edge.id)),
        "doors": await names(session, select(Door.name).where(Door.edge_id == edge.id)),
        "devices": await names(session, select(Device.name).where(Device.edge_id == edge.id)),
        "cameras": await names(session, select(Camera.name).where(Camera.edge_id == edge.id)),
        "lifts": await names(session, select(Lift.name).where(Lift.edge_id == edge.id)),
        "lanes": await names(session, select(Lane.name).where(Lane.edge_id == edge.id)),
    })
    before = edge_spec(edge)
    await session.delete(edge)
    await session.flush()
    await inst.record("edge", edge_id, edge.name, edge.site_id, "delete", before=before)


__all__ = ["create_edge", "delete_edge", "edge_spec", "update_edge"]
