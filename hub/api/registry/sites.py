"""Companies and their sites (the platform admin adds companies; it and a company's admin add
sites), and the edges' list (doors and edge changes: hub.api.installation)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.core.auth import ADMIN_ROLES, COMPANY_ROLES
from hub.api.core.endpoints import EndpointTable
from hub.api.core.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    thing_word,
)
from hub.api.core.schemas import SiteQuery
from hub.api.core.scope import Scope, scope_of
from hub.api.core.store import reading, writing
from hub.api.registry.schemas import (
    CompanyCreate,
    CompanyList,
    CompanyOut,
    EdgeList,
    EdgeOut,
    SiteCreate,
    SiteList,
    SiteOut,
    SiteUpdate,
)
from hub.dead_letters import dead_letter_counts
from hub.edgeconfig import config_refusal
from hub.models import DEFAULT_COMPANY, Company, Edge, Site, utcnow

routes = EndpointTable(tag="registry")


@routes.get("/sites", response=SiteList)
async def list_sites(request: web.Request) -> SiteList:
    """List the sites in your scope."""
    scope = scope_of(request)
    async with reading(request) as session:
        sites = await session.scalars(select(Site).where(scope.where(Site.id)).order_by(Site.id))
        return SiteList(items=[site_out(s) for s in sites])


def site_out(site: Site) -> SiteOut:
    return SiteOut(id=site.id, name=site.name, timezone=site.timezone,
                   company_id=site.company_id)


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


async def _company_for(session: AsyncSession, scope: Scope, company_id: str | None,
                       default: str) -> str:
    """The company a site goes into: a company admin's own (403 naming another); the platform
    admin's choice (`default` when none), 422 when it does not exist."""
    if scope.is_company_admin:
        if company_id is not None and company_id != scope.company_id:
            raise ForbiddenError(f"company {company_id!r} is not yours ({scope.company_id!r}); "
                                 "only the platform admin moves sites between companies")
        return str(scope.company_id)
    company_id = company_id or default
    if await session.get(Company, company_id) is None:
        raise InvalidError.unknown("company_id", "company", company_id)
    return company_id


@routes.post("/sites", body=SiteCreate, response=SiteOut, status=201, roles=COMPANY_ROLES)
async def create_site(request: web.Request, body: SiteCreate) -> SiteOut:
    """Add a site (a compound) to a company; its staff are then given `site_id` (the platform
    admin, or a company admin in their own company)."""
    scope = scope_of(request)
    async with writing(request) as change:
        company_id = await _company_for(change.session, scope, body.company_id, DEFAULT_COMPANY)
        if await change.session.get(Site, body.id) is not None:
            raise ConflictError(f"site {body.id!r} already exists",
                                ("error.exists", {"what": thing_word("site"), "key": body.id}))
        site = Site(id=body.id, name=body.name, timezone=body.timezone, company_id=company_id)
        change.session.add(site)
        await change.session.flush()
        return site_out(site)


@routes.patch(r"/sites/{id:[A-Za-z0-9][A-Za-z0-9_.-]{0,63}}", body=SiteUpdate,
              response=SiteOut, roles=COMPANY_ROLES)
async def update_site(request: web.Request, body: SiteUpdate) -> SiteOut:
    """Rename a site or change its time zone; the platform admin also moves it to another
    company (its staff go with it)."""
    scope = scope_of(request)
    site_id = request.match_info["id"]
    async with writing(request) as change:
        site = await change.session.get(Site, site_id)
        if site is None or not scope.sees(site.id):
            raise NotFoundError("site", site_id)
        if body.company_id is not None and body.company_id != site.company_id:
            site.company_id = await _company_for(change.session, scope, body.company_id,
                                                 site.company_id)
        if body.name is not None:
            site.name = body.name
        if body.timezone is not None:
            site.timezone = body.timezone
        await change.session.flush()
        return site_out(site)


@routes.get("/companies", response=CompanyList, roles=COMPANY_ROLES)
async def list_companies(request: web.Request) -> CompanyList:
    """The companies: every one for the platform admin, their own for a company admin."""
    scope = scope_of(request)
    stmt = select(Company).order_by(Company.id)
    if not scope.all_sites:
        stmt = stmt.where(Company.id == scope.company_id)
    async with reading(request) as session:
        return CompanyList(items=[CompanyOut.model_validate(c)
                                  for c in await session.scalars(stmt)])


@routes.post("/companies", body=CompanyCreate, response=CompanyOut, status=201,
             roles=ADMIN_ROLES)
async def create_company(request: web.Request, body: CompanyCreate) -> CompanyOut:
    """Add a company (a tenant): then its sites and its company admin (platform admin only)."""
    async with writing(request) as change:
        if await change.session.get(Company, body.id) is not None:
            raise ConflictError(f"company {body.id!r} already exists",
                                ("error.exists", {"what": thing_word("company"), "key": body.id}))
        company = Company(id=body.id, name=body.name, created_at=utcnow())
        change.session.add(company)
        await change.session.flush()
        return CompanyOut.model_validate(company)
