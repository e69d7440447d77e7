"""What a signed-in user may see: all sites (the platform admin), the sites of one company
(a company admin), one site (staff) or one household.

The role decides which endpoints a user may call at all (403, see `Endpoint.allowed_roles`);
the scope decides which rows those endpoints show. A row outside the scope answers 404, as
if it did not exist, so that nobody learns what lies in another site or household; a site
the caller names in a query or body outside their scope answers 403 (they named it, so
nothing leaks, and "not yours" says more than an empty list).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import ColumnElement, false, true

from hub.api.core.errors import ForbiddenError, NotFoundError
from hub.api.core.keys import COMPANY_SITES, CURRENT_USER
from hub.models import User


@dataclass(frozen=True)
class Scope:
    user_id: int
    role: str
    site_id: str | None  # the staff user's site; None with a non-admin role sees no site
    household_id: int | None  # a resident user's household
    company_id: str | None = None  # a company admin's company
    company_sites: frozenset[str] | None = None  # and its sites (read with the token)

    @property
    def all_sites(self) -> bool:
        """The platform admin: every company's sites."""
        return self.role == "admin"

    @property
    def is_company_admin(self) -> bool:
        return self.role == "company_admin"

    @property
    def is_resident(self) -> bool:
        return self.role == "resident"

    @property
    def shows_id_numbers(self) -> bool:
        """Only admins (the platform's, a company's for its sites) read ID numbers in full."""
        return self.role in ("admin", "company_admin")

    @property
    def sites(self) -> list[str] | None:
        """The sites in scope, sorted; None: every site (the platform admin)."""
        if self.all_sites:
            return None
        if self.is_company_admin:
            return sorted(self.company_sites or ())
        if self.is_resident or self.site_id is None:
            return []
        return [self.site_id]

    def where(
        self, site: ColumnElement[Any] | Any, household: ColumnElement[Any] | Any = None
    ) -> ColumnElement[bool]:
        """A filter for list queries: `site` is the row's site id (a column or scalar
        subquery), `household` its household id, or None where a row has no household (a
        resident then sees none of them)."""
        if self.all_sites:
            return true()
        if self.is_resident:
            if household is None or self.household_id is None:
                return false()
            return household == self.household_id
        if self.is_company_admin:
            sites = self.sites
            return site.in_(sites) if sites else false()
        if self.site_id is None:
            return false()
        return site == self.site_id

    def sees(self, site_id: str | None, household_id: int | None = None) -> bool:
        if self.all_sites:
            return True
        if self.is_company_admin:
            return site_id is not None and site_id in (self.company_sites or ())
        if self.is_resident:
            return self.household_id is not None and household_id == self.household_id
        return self.site_id is not None and site_id == self.site_id

    def check(self, what: str, key: object, site_id: str | None,
              household_id: int | None = None) -> None:
        """404 for a row outside the scope: the same answer as for a row that does not exist."""
        if not self.sees(site_id, household_id):
            raise NotFoundError(what, key)

    def claim_site(self, site_id: str | None) -> None:
        """403 when the caller names a site outside their scope (in a filter or a body)."""
        if site_id is None or self.all_sites:
            return
        if self.is_company_admin:
            if site_id not in (self.company_sites or ()):
                raise ForbiddenError(
                    f"site {site_id!r} is outside your company ({self.company_id!r})")
            return
        if self.is_resident or site_id != self.site_id:
            mine = "no site" if self.site_id is None or self.is_resident else repr(self.site_id)
            raise ForbiddenError(f"site {site_id!r} is outside your scope ({mine})")


def scope_of(request: web.Request) -> Scope:
    """The scope of the user the endpoint (or the console) authenticated."""
    return scope_for(request[CURRENT_USER], request.get(COMPANY_SITES))


def scope_for(user: User, company_sites: frozenset[str] | None = None) -> Scope:
    """A user's scope; a company admin's needs their company's sites."""
    return Scope(user_id=user.id, role=user.role, site_id=user.site_id,
                 household_id=user.household_id, company_id=user.company_id,
                 company_sites=company_sites if user.role == "company_admin" else None)


def mask_id_number(value: str | None, scope: Scope) -> str | None:
    """`110101********1234` style: enough to tell two people apart, not enough to use."""
    if value is None or scope.shows_id_numbers:
        return value
    if len(value) <= 4:
        return "*" * len(value)
    keep_head = 6 if len(value) >= 15 else 1
    return value[:keep_head] + "*" * (len(value) - keep_head - 4) + value[-4:]


__all__ = ["Scope", "mask_id_number", "scope_for", "scope_of"]
