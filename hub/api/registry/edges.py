"""One edge: what it last reported, its liveness, the dead letters it caused, and how far the
hub has stored its uplink."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from hub.api.core.crud import visible
from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.store import reading
from hub.api.registry.schemas import EdgeOut
from hub.dead_letters import dead_letters_of
from hub.edgeconfig import config_refusal
from hub.models import Edge, EdgeConfigVersion
from hub.stored import GAPS_SHOWN, progress

routes = EndpointTable(tag="registry")


class DeadLettersOut(BaseModel):
    count: int = Field(description="messages from this edge the hub could not accept (kept, "
                       "with the reason, in the dead letters)")
    last_at: datetime | None = Field(description="when the latest one arrived")
    last_reason: str | None = Field(description="why the latest one was refused")


class SeqGap(BaseModel):
    first: int
    last: int


class UplinkOut(BaseModel):
    held_back: int | None = Field(
        description="messages the edge last reported waiting in its outbox for the hub's "
        "confirmation (null: it has not said)")
    last_seq: int | None = Field(description="the last sequence number the edge reported writing")
    stored_through: int = Field(description="every sequence number up to this one is stored")
    highest_stored: int = Field(description="the highest sequence number stored")
    gaps: list[SeqGap] = Field(
        description=f"sequence numbers missing between stored ones (the first {GAPS_SHOWN})")
    missing: int = Field(description="sequence numbers in all gaps")


class ConfigOut(BaseModel):
    version: int | None = Field(description="the configuration the hub last published to the "
                                "edge (null: none yet)")
    running_version: int | None = Field(
        description="the configuration the edge reports running (null: its own file's)")
    refused: str | None = Field(
        description="why the edge refused the newest configuration it was sent (the reason "
        "word, then what and why), while it runs an older one; null when none is refused")
    refused_version: int | None = Field(description="the version it refused")
    reset_needed: bool = Field(
        default=False, description="the edge runs a newer version than the hub last published "
        "(the hub's database went back, e.g. restored from a backup): it refuses the hub's "
        "until POST /edges/{id}/reset-config")


class EdgeDetail(EdgeOut):
    keepalive_s: int | None = Field(description="the edge's MQTT keepalive, as it reported it")
    silent_at: datetime | None = Field(
        description="when the hub counts it offline unless it hears from it again (online only)")
    dead_letters: DeadLettersOut
    uplink: UplinkOut
    config: ConfigOut


@routes.get(r"/edges/{id:\d+}", response=EdgeDetail)
async def get_edge(request: web.Request) -> EdgeDetail:
    """One edge: its last report, its liveness, the dead letters it caused, and its uplink:
    held back at the edge, stored up to, gaps."""
    edge_id = path_id(request, "edge")
    async with reading(request) as session:
        edge = await visible(session, request, Edge, "edge", edge_id)
        dead = await dead_letters_of(session, edge.site_id, edge.name)
        stored = await progress(session, edge.site_id, edge.name)
        published = await session.scalar(
            select(EdgeConfigVersion.version).where(EdgeConfigVersion.edge_id == edge_id))
    return EdgeDetail(
        id=edge.id, site_id=edge.site_id, name=edge.name, building_id=edge.building_id,
        label=edge.label,
        status=edge.status, agent_version=edge.agent_version,
        perm_version_held=edge.perm_version_held, last_seen=edge.last_seen,
        dead_letter_count=dead.count, downlink_refused=edge.downlink_refused,
        keepalive_s=edge.keepalive_s, silent_at=edge.silent_at,
        dead_letters=DeadLettersOut(count=dead.count, last_at=dead.last_at,
                                    last_reason=dead.last_reason),
        uplink=UplinkOut(
            held_back=edge.outbox_waiting, last_seq=edge.outbox_last_seq,
            stored_through=stored.stored_through, highest_stored=stored.highest_stored,
            gaps=[SeqGap(first=a, last=b) for a, b in stored.gaps], missing=stored.missing),
        config=config_of(edge, published))


def config_of(edge: Edge, published: int | None) -> ConfigOut:
    refused = config_refusal(edge)
    return ConfigOut(version=published, running_version=edge.config_version_held,
                     refused=refused,
                     refused_version=edge.config_refused_version if refused else None,
                     reset_needed=published is not None and edge.config_version_held is not None
                     and edge.config_version_held > published)
