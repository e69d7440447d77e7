"""What every installation resource shares: the actor, one transaction per change (then the
permission and configuration publishers), and the change and removal of one row (scoped list
and get: hub.api.core.crud)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.api.core.endpoints import path_id
from hub.api.core.errors import InvalidError
from hub.api.core.keys import CONFIG_PUBLISHER, CURRENT_USER
from hub.api.core.scope import scope_of
from hub.api.core.store import writing
from hub.installation import Actor, Installer

log = logging.getLogger(__name__)
OutT = TypeVar("OutT", bound=BaseModel)
ITEM = r"/{id:\d+}"


class PartQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: str | None = Field(default=None, min_length=1, max_length=64)
    edge_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


def actor_of(request: web.Request) -> Actor:
    scope = scope_of(request)
    user = request[CURRENT_USER]
    sites = scope.sites
    return Actor(username=user.username, user_id=user.id, site_id=user.site_id,
                 all_sites=sites is None,
                 sites=frozenset(sites) if scope.is_company_admin and sites is not None else None)


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
