"""Remote door control: unlock a door, lock down or release a building — each with a reason,
recorded with who sent it and the edge's answer."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from hub.api.core.auth import OPERATOR_ROLES, WRITER_ROLES
from hub.api.core.crud import visible
from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.errors import ConflictError, NotFoundError, UnavailableError
from hub.api.core.keys import COMMANDS, CURRENT_USER, CommandSender
from hub.api.core.schemas import Out, Strict
from hub.api.core.scope import scope_of
from hub.api.core.store import reading
from hub.errors import Conflict
from hub.models import Door, Edge, EdgeCommandRow
from wire.commands import CommandName

routes = EndpointTable(tag="commands")


class UnlockIn(Strict):
    reason: str = Field(min_length=1, max_length=500, description="why; kept in the log")
    duration_s: float | None = Field(default=None, gt=0, le=300,
                                     description="how long; default: the door's unlock pulse")


class InstallIn(Strict):
    minutes: int = Field(ge=1, le=60, description="how long the reader may use OSDP's install key")
    reason: str = Field(default="reader commissioning", min_length=1, max_length=500,
                        description="why; kept in the log")


class ReasonIn(Strict):
    reason: str = Field(min_length=1, max_length=500, description="why; kept in the log")


class CommandQuery(Strict):
    site_id: str | None = Field(default=None, max_length=64)
    edge: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=50, ge=1, le=500)


class CommandOut(Out):
    id: str
    site_id: str
    edge: str
    door: str | None
    command: str
    reason: str
    issued_by: str
    issued_at: datetime
    status: str = Field(description="sent, then ok / failed / rejected from the edge; unsent")
    answer: str | None
    answered_at: datetime | None


class CommandList(BaseModel):
    items: list[CommandOut]


def _sender(request: web.Request) -> CommandSender:
    sender = request.app.get(COMMANDS)
    if sender is None:
        raise UnavailableError("this API instance cannot reach the broker to command edges",
                               ("error.no_broker", {}))
    return sender


async def _door_command(request: web.Request, command: CommandName, reason: str,
                        duration_s: float | None = None) -> CommandOut:
    door_id = path_id(request, "door")
    async with reading(request) as session:
        found = (await session.execute(
            select(Door, Edge).join(Edge, Edge.id == Door.edge_id).where(Door.id == door_id)
        )).first()
    if found is None:
        raise NotFoundError("door", door_id)
    door, edge = found
    scope_of(request).check("door", door_id, door.site_id)
    row = await _sender(request).send(
        site=door.site_id, edge=edge.name, command=command, door=door.name, reason=reason,
        issued_by=request[CURRENT_USER].username, duration_s=duration_s)
    return CommandOut.model_validate(row)


@routes.post("/doors/{id:\\d+}/unlock", body=UnlockIn, response=CommandOut, status=202,
             roles=OPERATOR_ROLES)
async def unlock_door(request: web.Request, body: UnlockIn) -> CommandOut:
    """Open a door remotely, with a reason (logged)."""
    return await _door_command(request, "unlock", body.reason, body.duration_s)


@routes.post("/doors/{id:\\d+}/install", body=InstallIn, response=CommandOut, status=202,
             roles=WRITER_ROLES)
async def install_reader(request: web.Request, body: InstallIn) -> CommandOut:
    """Put a door's reader in install mode for `minutes`: the edge lets a new reader come up
    with OSDP's install key (SCBK-D), gives it a fresh key of its own (KEYSET), keeps it and
    reports it sealed to the hub (`reader_keyed`), and refuses the default key again."""
    return await _door_command(request, "reader_install", body.reason, body.minutes * 60.0)


@routes.post("/doors/{id:\\d+}/rotate-key", body=ReasonIn, response=CommandOut, status=202,
             roles=WRITER_ROLES)
async def rotate_reader_key(request: web.Request, body: ReasonIn) -> CommandOut:
    """Give a door's reader (online, on the secure channel) a fresh key now (OSDP KEYSET)."""
    return await _door_command(request, "rotate_key", body.reason)


async def _edge_command(request: web.Request, command: str, reason: str) -> CommandOut:
    edge_id = path_id(request, "edge")
    async with reading(request) as session:
        edge = await visible(session, request, Edge, "edge", edge_id)
    row = await _sender(request).send(
        site=edge.site_id, edge=edge.name, command=command, reason=reason,
        issued_by=request[CURRENT_USER].username)
    return CommandOut.model_validate(row)


@routes.post("/edges/{id:\\d+}/lockdown", body=ReasonIn, response=CommandOut, status=202,
             roles=OPERATOR_ROLES)
async def lockdown_edge(request: web.Request, body: ReasonIn) -> CommandOut:
    """Lock down every door of a building's edge: relocked, cards refused until release."""
    return await _edge_command(request, "lockdown", body.reason)


@routes.post("/edges/{id:\\d+}/release", body=ReasonIn, response=CommandOut, status=202,
             roles=OPERATOR_ROLES)
async def release_edge(request: web.Request, body: ReasonIn) -> CommandOut:
    """End a lockdown."""
    return await _edge_command(request, "release", body.reason)


async def _reset(request: web.Request, body: ReasonIn,
                 what: Literal["permissions", "config"]) -> CommandOut:
    """The path's edge (404 unless in scope) told to take the hub's current `what` again."""
    edge_id = path_id(request, "edge")
    async with reading(request) as session:
        await visible(session, request, Edge, "edge", edge_id)
    sender = _sender(request)
    reset = sender.reset_permissions if what == "permissions" else sender.reset_config
    try:
        row = await reset(edge_id=edge_id, reason=body.reason,
                          issued_by=request[CURRENT_USER].username)
    except Conflict as exc:
        raise ConflictError(str(exc), exc.text) from exc
    return CommandOut.model_validate(row)


@routes.post("/edges/{id:\\d+}/reset-permissions", body=ReasonIn, response=CommandOut,
             status=202, roles=WRITER_ROLES)
async def reset_edge_permissions(request: web.Request, body: ReasonIn) -> CommandOut:
    """Make an edge take the hub's current permission snapshot whatever version it holds: the
    way out for an edge that refuses the hub's snapshots as older than its own (e.g. after a
    database restore). Signed like every command; the snapshot is sent again after it."""
    return await _reset(request, body, "permissions")


@routes.post("/edges/{id:\\d+}/reset-config", body=ReasonIn, response=CommandOut,
             status=202, roles=WRITER_ROLES)
async def reset_edge_config(request: web.Request, body: ReasonIn) -> CommandOut:
    """Make an edge take the hub's current configuration whatever version it runs: the way
    out for an edge that refuses the hub's configurations as older than its own (the hub's
    database restored from a backup). Signed like every command; the configuration is sent
    again after it."""
    return await _reset(request, body, "config")


@routes.get("/commands", query=CommandQuery, response=CommandList, roles=OPERATOR_ROLES)
async def list_commands(request: web.Request, query: CommandQuery) -> CommandList:
    """Commands sent to edges of your scope, newest first, with their answers."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    stmt = (
        select(EdgeCommandRow)
        .where(scope.where(EdgeCommandRow.site_id))
        .order_by(EdgeCommandRow.issued_at.desc())
        .limit(query.limit)
    )
    if query.site_id is not None:
        stmt = stmt.where(EdgeCommandRow.site_id == query.site_id)
    if query.edge is not None:
        stmt = stmt.where(EdgeCommandRow.edge == query.edge)
    async with reading(request) as session:
        rows = (await session.scalars(stmt)).all()
    return CommandList(items=[CommandOut.model_validate(r) for r in rows])


@routes.get("/commands/{id}", response=CommandOut, roles=OPERATOR_ROLES)
async def get_command(request: web.Request) -> CommandOut:
    """One command and the edge's answer."""
    command_id = request.match_info["id"]
    async with reading(request) as session:
        row = await visible(session, request, EdgeCommandRow, "command", command_id)
    return CommandOut.model_validate(row)
