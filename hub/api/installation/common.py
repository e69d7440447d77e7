"""What every installation resource shares: the actor, one transaction per change (then the
permission and configuration publishers), and scoped list and get."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.api.endpoints import path_id
from hub.api.errors import InvalidError, NotFoundError
from hub.api.keys import CONFIG_PUBLISHER, CURRENT_USER
from hub.api.scope import scope_of
from hub.api.store import reading, writing
from hub.installation import Actor, Installer
from hub.models import Base

log = logging.getLogger(__name__)
M = TypeVar("M", bound=Base)
OutT = TypeVar("OutT", bound=BaseModel)
ITEM = r"/{id:\d+}"


class Out(BaseModel):
    """An answer read straight from its row."""

    model_config = ConfigDict(from_attributes=True)


class PartQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: str | None = Field(default=None, min_length=1, max_length=64)
    edge_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class _SiteRow(Protocol):
    site_id: Any


def actor_of(request: web.Request) -> Actor:
    user = request[CURRENT_USER]
    return Actor(username=user.username, user_id=user.id, site_id=user.site_id,
                 all_sites=user.role == "admin")


@asynccontextmanager
async def installing(request: web.Request) -> AsyncIterator[Installer]:
    """One installation change: all or nothing; after the commit the permission snapshots of
    the edges whose doors changed, and the configuration of every edge touched, go out."""
    async with writing(request) as change:
        inst = Installer(change.session, actor_of(request))
        yield inst
        for site_id, edges in inst.permission_edges.items():
            change.edges.setdefault(site_id, set()).update(edges)
            change.residents[site_id] = None
    publisher = request.app.get(CONFIG_PUBLISHER)
    if publisher is None:
        return
    for site_id, edges in sorted(inst.edges.items()):
        if not edges:
            continue
        try:
            publisher.edges_changed(site_id, sorted(edges))
        except Exception:  # committed; a publisher fault must not undo the answer
            log.exception("edges_changed(%r, %s) failed", site_id, sorted(edges))


async def scoped_list(request: web.Request, stmt: Any, model: type[_SiteRow],
                      query: PartQuery, out: type[OutT]) -> list[OutT]:
    """The rows of `stmt` (a Select of one model; its type parameters differ between
    SQLAlchemy 2.0 and 2.1) in the caller's scope, filtered by the query's site and edge."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    stmt = stmt.where(scope.where(model.site_id))
    if query.site_id is not None:
        stmt = stmt.where(model.site_id == query.site_id)
    if query.edge_id is not None:
        stmt = stmt.where(getattr(model, "edge_id") == query.edge_id)  # noqa: B009
    async with reading(request) as session:
        rows = await session.scalars(stmt)
        return [out.model_validate(row, from_attributes=True) for row in rows]


async def scoped_get(request: web.Request, model: type[M], what: str, out: type[OutT]) -> OutT:
    """One row by the path's id: 404 when it does not exist or lies outside the scope."""
    row_id = path_id(request, what)
    async with reading(request) as session:
        row = await session.get(model, row_id)
        if row is None:
            raise NotFoundError(what, row_id)
        scope_of(request).check(what, row_id, str(getattr(row, "site_id")))  # noqa: B009
        return out.model_validate(row, from_attributes=True)


Change = Callable[[Installer, int, BaseModel], Any]


async def apply(request: web.Request, what: str, change: Change, body: BaseModel,
                out: type[OutT]) -> OutT:
    """PATCH: the service's update of the path's row, answered from the row as it is now."""
    row_id = path_id(request, what)
    async with installing(request) as inst:
        try:
            row = await change(inst, row_id, body)
        except ValidationError as exc:  # the change merged into the row does not fit
            raise InvalidError.from_pydantic(exc) from exc
        return out.model_validate(row, from_attributes=True)


async def remove(request: web.Request, what: str,
                 delete: Callable[[Installer, int], Any]) -> None:
    row_id = path_id(request, what)
    async with installing(request) as inst:
        await delete(inst, row_id)
