"""The audit trail of the installation: who changed what, when, before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub.api.core.crud import Out
from hub.api.core.endpoints import EndpointTable
from hub.api.core.scope import scope_of
from hub.api.core.store import reading
from hub.audit import AuditEntry

routes = EndpointTable(tag="installation")
Resource = Literal["edge", "line", "door", "device", "camera", "lift", "lane"]


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: str | None = Field(default=None, min_length=1, max_length=64)
    resource: Resource | None = None
    resource_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    before: int | None = Field(default=None, ge=1, le=2**31 - 1,
                               description="the page's cursor: entries older than this id")
    limit: int = Field(default=100, ge=1, le=500)


class AuditOut(Out):
    id: int
    at: datetime
    actor: str
    site_id: str | None
    resource: str
    resource_id: int
    name: str
    action: Literal["create", "update", "delete"]
    before: dict[str, Any] | None = Field(description="the fields as they were (changed ones)")
    after: dict[str, Any] | None = Field(description="the fields as they became")


class AuditPage(BaseModel):
    items: list[AuditOut]
    next: int | None = Field(description="pass as `before` for the next page; null: no more")


@routes.get("/audit", query=AuditQuery, response=AuditPage, roles=frozenset({"admin", "manager"}))
async def list_audit(request: web.Request, query: AuditQuery) -> AuditPage:
    """The installation's audit trail, newest first (admins: every site; managers: theirs)."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    stmt = (select(AuditEntry).where(scope.where(AuditEntry.site_id))
            .order_by(AuditEntry.id.desc()).limit(query.limit + 1))
    for column, value in ((AuditEntry.site_id, query.site_id),
                          (AuditEntry.resource, query.resource),
                          (AuditEntry.resource_id, query.resource_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    if query.before is not None:
        stmt = stmt.where(AuditEntry.id < query.before)
    async with reading(request) as session:
        rows = list(await session.scalars(stmt))
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    return AuditPage(items=[AuditOut.model_validate(r) for r in rows],
                     next=rows[-1].id if more else None)
