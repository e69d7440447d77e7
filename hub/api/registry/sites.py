"""Sites (the admin adds them) and the edges' list (doors and edge changes: hub.api.installation)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from hub.api.core.auth import ADMIN_ROLES
from hub.api.core.endpoints import EndpointTable
from hub.api.core.errors import ConflictError, thing_word
from hub.api.core.schemas import SiteQuery
from hub.api.core.scope import scope_of
from hub.api.core.store import reading, writing
from hub.api.registry.schemas import EdgeList, EdgeOut, SiteCreate, SiteList, SiteOut
from hub.dead_letters import dead_letter_counts
from hub.edgeconfig import config_refusal
from hub.models import Edge, Site

routes = EndpointTable(tag="registry")


@routes.get("/sites", response=SiteList)
async def list_sites(request: web.Request) -> SiteList:
    """List the sites in your scope."""
    scope = scope_of(request)
    async with reading(request) as session:
        sites = await session.scalars(select(Site).where(scope.where(Site.id)).order_by(Site.id))
        return SiteList(items=[SiteOut(id=s.id, name=s.name, timezone=s.timezone) for s in sites])


@routes.get("/edges", query=SiteQuery, response=EdgeList)
async def list_edges(request: web.Request, query: SiteQuery) -> EdgeList:
    """List edges with what each last reported (status, last seen, permission and
    configuration versions held, a configuration refused, downlink messages refused) and how
    many of its messages went to the dead letters."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    stmt = select(Edge).where(scope.where(Edge.site_id)).order_by(Edge.site_id, Edge.name)
    if query.site_id is not None:
        stmt = stmt.where(Edge.site_id == query.site_id)
    async with reading(request) as session:
        edges = list(await session.scalars(stmt))
        dead = await dead_letter_counts(session, query.site_id)
    return EdgeList(
        items=[
            EdgeOut(
                id=e.id,
                site_id=e.site_id,
                name=e.name,
                building_id=e.building_id,
                label=e.label,
                status=e.status,
                agent_version=e.agent_version,
                perm_version_held=e.perm_version_held,
                last_seen=e.last_seen,
                dead_letter_count=dead.get((e.site_id, e.name), 0),
                downlink_refused=e.downlink_refused,
                config_version_held=e.config_version_held,
                config_refused=config_refusal(e),
            )
            for e in edges
        ]
    )


@routes.post("/sites", body=SiteCreate, response=SiteOut, status=201, roles=ADMIN_ROLES)
async def create_site(request: web.Request, body: SiteCreate) -> SiteOut:
    """Add a site (a compound); its staff are then given `site_id` (admin only)."""
    async with writing(request) as change:
        if await change.session.get(Site, body.id) is not None:
            raise ConflictError(f"site {body.id!r} already exists",
                                ("error.exists", {"what": thing_word("site"), "key": body.id}))
        change.session.add(Site(id=body.id, name=body.name, timezone=body.timezone))
    return SiteOut(id=body.id, name=body.name, timezone=body.timezone)
