"""The audit log: every write through the API (hub.api.core.audit) and the installation's own
entries, searched and exported within the caller's scope — the platform admin every company,
a company admin their company, a manager their site."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import ColumnElement, String, cast, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.core.crud import Out
from hub.api.core.endpoints import EndpointTable
from hub.api.core.errors import InvalidError
from hub.api.core.scope import Scope, scope_of
from hub.api.core.store import reading
from hub.audit import AuditEntry
from hub.texts.validation import Refusal, field_word

routes = EndpointTable(tag="audit")
AUDITORS = frozenset({"admin", "company_admin", "manager"})
CSV_LIMIT = 50_000  # an export past this says so rather than cutting silently


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: str | None = Field(default=None, min_length=1, max_length=64)
    company_id: str | None = Field(default=None, min_length=1, max_length=64,
                                   description="the platform admin's filter")
    user: str | None = Field(default=None, min_length=1, max_length=64,
                             description="who made the change (username)")
    resource: str | None = Field(default=None, min_length=1, max_length=32,
                                 description="e.g. residents, card_credentials, line")
    resource_id: str | None = Field(default=None, min_length=1, max_length=100,
                                    description="the changed row's key")
    since: AwareDatetime | None = Field(default=None, description="from (inclusive)")
    until: AwareDatetime | None = Field(default=None, description="to (exclusive)")
    q: str | None = Field(default=None, min_length=1, max_length=100,
                          description="text in the name, path, address or the values")
    before: int | None = Field(default=None, ge=1, le=2**31 - 1,
                               description="the page's cursor: entries older than this id")
    limit: int = Field(default=100, ge=1, le=500)
    format: Literal["json", "csv"] = Field(default="json",
                                           description="csv: every match, no paging")

    @field_validator("site_id", "company_id", "user", "resource", "resource_id", "q")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and any(ord(c) < 32 for c in value):
            # PostgreSQL refuses NUL in text
            raise Refusal("invalid.control_character", "holds a control character")
        return value

    @model_validator(mode="after")
    def _window(self) -> AuditQuery:
        if self.since and self.until and self.since >= self.until:
            raise Refusal("invalid.after", "until: must be after since",
                          other=field_word("since"))
        return self


class AuditOut(Out):
    id: int
    at: datetime
    actor: str
    company_id: str | None
    site_id: str | None
    resource: str
    resource_id: int | None = Field(description="the key when it is an integer")
    resource_key: str | None = Field(description="the changed row's key")
    name: str = Field(description="the part's name, or the API operation")
    action: Literal["create", "update", "delete"]
    before: dict[str, Any] | None = Field(description="the fields as they were (changed ones)")
    after: dict[str, Any] | None = Field(description="the fields as they became")
    remote_addr: str | None = Field(description="the client's address")
    method: str | None
    path: str | None


class AuditPage(BaseModel):
    items: list[AuditOut]
    next: int | None = Field(description="pass as `before` for the next page; null: no more")


def _scoped(scope: Scope) -> ColumnElement[bool]:
    """A company admin: their company's entries; a manager: their site's."""
    if scope.all_sites:
        return true()
    if scope.is_company_admin:
        return AuditEntry.company_id == scope.company_id if scope.company_id else false()
    return scope.where(AuditEntry.site_id)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filters(query: AuditQuery, scope: Scope) -> list[ColumnElement[bool]]:
    scope.claim_site(query.site_id)
    if query.company_id is not None and not scope.all_sites and \
            query.company_id != scope.company_id:
        raise InvalidError.one("company_id", "only the platform admin filters by company",
                               "invalid.company_filter")
    where = [_scoped(scope)]
    for column, value in ((AuditEntry.site_id, query.site_id),
                          (AuditEntry.company_id, query.company_id),
                          (AuditEntry.actor, query.user),
                          (AuditEntry.resource, query.resource),
                          (AuditEntry.resource_key, query.resource_id)):
        if value is not None:
            where.append(column == value)
    if query.since is not None:
        where.append(AuditEntry.at >= query.since)
    if query.until is not None:
        where.append(AuditEntry.at < query.until)
    if query.q is not None:
        pattern = _like(query.q)
        where.append(or_(*(c.ilike(pattern, escape="\\") for c in (
            AuditEntry.name, AuditEntry.path, AuditEntry.remote_addr, AuditEntry.actor,
            cast(AuditEntry.before, String), cast(AuditEntry.after, String)))))
    if query.before is not None:
        where.append(AuditEntry.id < query.before)
    return where


async def search(session: AsyncSession, scope: Scope, query: AuditQuery
                 ) -> tuple[list[AuditEntry], int | None]:
    """One page of entries (newest first) and the next page's cursor; the API and the
    console's audit page share it."""
    stmt = (select(AuditEntry).where(*_filters(query, scope)).order_by(AuditEntry.id.desc())
            .limit(query.limit + 1))
    rows = list(await session.scalars(stmt))
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    return rows, rows[-1].id if more and rows else None


@routes.get("/audit", query=AuditQuery, response=AuditPage, roles=AUDITORS,
            produces=("application/json", "text/csv"))
async def list_audit(request: web.Request, query: AuditQuery) -> AuditPage | web.Response:
    """The audit log, newest first: who changed what, when, from where, before and after
    (the platform admin: every company; a company admin: theirs; a manager: their site).
    `format=csv` exports every match."""
    scope = scope_of(request)
    if query.format == "csv":
        where = _filters(query, scope)
        stmt = (select(AuditEntry).where(*where).order_by(AuditEntry.id.desc())
                .limit(CSV_LIMIT + 1))
        async with reading(request) as session:
            rows = list(await session.scalars(stmt))
        if len(rows) > CSV_LIMIT:
            raise InvalidError.one("since", f"more than {CSV_LIMIT} entries match; narrow the "
                                   "time window", "invalid.audit_too_many")
        return _csv(rows)
    async with reading(request) as session:
        rows, after = await search(session, scope, query)
    return AuditPage(items=[AuditOut.model_validate(r) for r in rows], next=after)


_CSV_COLUMNS = ("id", "at", "actor", "company_id", "site_id", "resource", "resource_key",
                "name", "action", "remote_addr", "method", "path", "before", "after")


def _cell(value: Any) -> str:
    """As text; what a spreadsheet would run as a formula is kept as text."""
    if value is None:
        return ""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(value, dict) \
        else value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(rows: list[AuditEntry]) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(getattr(row, c)) for c in _CSV_COLUMNS])
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="audit.csv"'})
