"""One installation change in progress: who makes it, in which transaction, and which edges'
configurations it touches. The resource modules (edges, lines, doors …) act through it, so
that the API and the demo seed commission a building the same way."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from hub import audit
from hub.errors import Conflict, Forbidden, InvalidInput, NotFound
from hub.models import Base, Edge, Site
from hub.texts import TEXTS, pair, word

M = TypeVar("M", bound=Base)


# the kinds `refuse_in_use` names, as hub.texts words
_KINDS = {"car readers (doors)": "thing.door", "lifts": "thing.lift", "lines": "thing.line",
          "doors": "thing.door", "devices": "thing.device", "meters": "thing.meter",
          "cameras": "thing.camera", "lanes": "thing.lane", "access groups": "thing.access_group",
          "anti-passback pairs": "thing.pair"}


@dataclass(frozen=True)
class Actor:
    """Who changes the installation: the platform admin (every site), a company admin (their
    company's sites) or a site's manager."""

    username: str
    user_id: int | None = None
    site_id: str | None = None  # None with all_sites False: no site at all
    all_sites: bool = False
    sites: frozenset[str] | None = None  # a company admin's: their company's sites

    def sees(self, site_id: str) -> bool:
        if self.all_sites:
            return True
        if self.sites is not None:
            return site_id in self.sites
        return self.site_id is not None and self.site_id == site_id


SYSTEM = Actor(username="system", all_sites=True)


@dataclass
class Installer:
    session: AsyncSession
    actor: Actor
    # per site, the edges whose configuration this change alters (recompiled after commit)
    edges: dict[str, set[int]] = field(default_factory=dict)
    # per site, the edges whose permission snapshot it alters (their doors came or went)
    permission_edges: dict[str, set[int]] = field(default_factory=dict)

    def touch(self, site_id: str, *edge_ids: int | None, permissions: bool = False) -> None:
        ids = {e for e in edge_ids if e is not None}
        self.edges.setdefault(site_id, set()).update(ids)
        if permissions:
            self.permission_edges.setdefault(site_id, set()).update(ids)

    async def row(self, model: type[M], row_id: int, what: str) -> M:
        """The row, or NotFound (also for one outside the actor's sites: nothing leaks)."""
        row = await self.session.get(model, row_id)
        if row is None or not self.actor.sees(str(getattr(row, "site_id"))):  # noqa: B009
            raise NotFound(what, row_id)
        return row

    async def reference(self, model: type[M], row_id: int, what: str, field_name: str) -> M:
        """A row a body names: unknown (or outside the actor's sites) is the body's fault."""
        try:
            return await self.row(model, row_id, what)
        except NotFound as exc:
            raise InvalidInput(field_name, f"unknown {what} {row_id}", "invalid.unknown",
                               what=word(f"thing.{what.replace(' ', '_')}", what),
                               key=row_id) from exc

    async def edge(self, edge_id: int, site_id: str | None) -> Edge:
        """The edge a part goes on; `site_id`, if the body gave one, must be the edge's."""
        if site_id is not None:
            self.claim_site(site_id)
        edge = await self.reference(Edge, edge_id, "edge", "edge_id")
        if site_id is not None and edge.site_id != site_id:
            raise InvalidInput("edge_id", f"edge {edge.name!r} is in site {edge.site_id!r}, "
                                          f"not {site_id!r}", "invalid.site_mismatch",
                               thing=word("thing.edge", "edge"), name=edge.name,
                               site=edge.site_id, wanted=site_id)
        return edge

    def claim_site(self, site_id: str) -> None:
        if not self.actor.sees(site_id):
            mine = (repr(self.actor.site_id) if self.actor.site_id else
                    "your company's sites" if self.actor.sites is not None else "no site")
            raise Forbidden(f"site {site_id!r} is outside your scope ({mine})")

    async def site(self, site_id: str) -> Site:
        self.claim_site(site_id)
        site = await self.session.get(Site, site_id)
        if site is None:
            raise InvalidInput("site_id", f"unknown site {site_id!r}", "invalid.unknown",
                               what=word("thing.site", "site"), key=site_id)
        return site

    async def refuse_taken(self, field_name: str, what: str, stmt: Any) -> None:
        """InvalidInput naming the field when `stmt` finds a row that already holds it."""
        held = await self.session.scalar(stmt)
        if held is not None:
            raise InvalidInput(field_name, f"{what} (held by {held})", "invalid.held_by",
                               what=pair(what, TEXTS["word.this_value"][1]), held=held)

    @staticmethod
    def refuse_in_use(what: str, users: dict[str, Iterable[str]]) -> None:
        """Conflict (409) naming everything that still uses the part."""
        named = {kind: sorted(names) for kind, names in users.items()}
        named = {kind: names for kind, names in named.items() if names}
        if named:
            listed = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in named.items())
            zh = "；".join(f"{TEXTS.get(_KINDS.get(kind, ''), (kind, kind))[1]}：{'、'.join(names)}"
                          for kind, names in named.items())
            raise Conflict(f"{what} is in use ({listed}); remove or move those first",
                           "error.installed_in_use", what=what, listed=pair(listed, zh))

    async def record(self, resource: str, row_id: int, name: str, site_id: str,
                     action: audit.AuditAction, before: dict[str, Any] | None = None,
                     after: dict[str, Any] | None = None) -> None:
        await audit.record(self.session, actor=self.actor.username, actor_id=self.actor.user_id,
                           site_id=site_id, resource=resource, resource_id=row_id, name=name,
                           action=action, before=before, after=after)


async def names(session: AsyncSession, stmt: Any) -> list[str]:
    return [str(n) for n in await session.scalars(stmt)]


__all__ = ["SYSTEM", "Actor", "Installer", "names"]
