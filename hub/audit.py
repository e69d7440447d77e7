"""The audit trail: who changed what, when, from where, and how it looked before and after.
Written in the change's own transaction, so a refused change leaves no row.

The installation's functions record their own entries (they run for the demo seed too); every
other write through the API is recorded centrally (hub.api.core.audit), one entry per committed
write, with the request's context (company, client address, method and path) on both kinds."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from hub.models import Base, UtcDateTime, utcnow

AuditAction = Literal["create", "update", "delete"]


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_site_id_at", "site_id", "at"),
                      Index("ix_audit_log_resource", "resource", "resource_id"),
                      Index("ix_audit_log_company_id_at", "company_id", "at"),
                      Index("ix_audit_log_resource_key", "resource", "resource_key"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # the username, kept if the user goes
    actor_id: Mapped[int | None] = mapped_column(Integer)
    site_id: Mapped[str | None] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(32))  # edge, line, door, … residents, cards …
    resource_id: Mapped[int | None] = mapped_column(Integer)  # an integer key, when it is one
    name: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[AuditAction] = mapped_column(String(8))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # issue 19: any key (a site's name, a command's UUID), the company, and the request
    resource_key: Mapped[str | None] = mapped_column(String(100))
    company_id: Mapped[str | None] = mapped_column(String(64))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str | None] = mapped_column(String(8))
    path: Mapped[str | None] = mapped_column(String(300))


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None
                   ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """An update keeps only the fields that changed; a create or delete keeps all."""
    if before is None or after is None:
        return before, after
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


async def record(session: AsyncSession, *, actor: str, actor_id: int | None,
                 site_id: str | None, resource: str, resource_id: int, name: str,
                 action: AuditAction, before: dict[str, Any] | None = None,
                 after: dict[str, Any] | None = None) -> AuditEntry:
    """Add one row to the trail (the caller commits it with the change)."""
    before, after = changed_fields(before, after)
    entry = AuditEntry(actor=actor, actor_id=actor_id, site_id=site_id, resource=resource,
                       resource_id=resource_id, resource_key=str(resource_id), name=name,
                       action=action, before=before, after=after, at=utcnow())
    session.add(entry)
    return entry


__all__ = ["AuditAction", "AuditEntry", "changed_fields", "record"]
