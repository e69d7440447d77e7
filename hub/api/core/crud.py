"""The list, get and delete every site-scoped resource shares. A list holds only the rows of
the caller's scope (naming a site outside it is 403); one row outside the scope answers 404,
as a row that does not exist would. A row with a `household_id` is in the scope of that
household's resident users too (where the endpoint lets residents in at all). Answers are read
from their rows (`Out`)."""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.core.endpoints import path_id
from hub.api.core.errors import ConflictError, NotFoundError, thing_word
from hub.api.core.schemas import Out
from hub.api.core.scope import scope_of
from hub.api.core.store import reading, writing
from hub.models import Base
from hub.texts import TEXTS, pair

M = TypeVar("M", bound=Base)
OutT = TypeVar("OutT", bound=BaseModel)


def _site_of(row: Base) -> str:
    return str(getattr(row, "site_id"))  # noqa: B009  # every scoped model has one


def _household_of(row: Base) -> int | None:
    household = getattr(row, "household_id", None)
    return household if isinstance(household, int) else None


def scoped(request: web.Request, stmt: Any, model: type[Base], site_id: str | None = None,
           **equal: Any) -> Any:
    """`stmt` (a Select of `model`; its type parameters differ between SQLAlchemy 2.0 and 2.1)
    kept to the caller's scope and to `site_id`, and to each column given in `equal` whose
    value is not None."""
    scope = scope_of(request)
    scope.claim_site(site_id)
    stmt = stmt.where(scope.where(getattr(model, "site_id"),  # noqa: B009
                                  getattr(model, "household_id", None)))
    if site_id is not None:
        stmt = stmt.where(getattr(model, "site_id") == site_id)  # noqa: B009
    for column, value in equal.items():
        if value is not None:
            stmt = stmt.where(getattr(model, column) == value)
    return stmt


async def scoped_list(request: web.Request, stmt: Any, model: type[Base], out: type[OutT],
                      site_id: str | None = None, **equal: Any) -> list[OutT]:
    """The rows of `scoped(...)`, each read into `out`."""
    async with reading(request) as session:
        rows = await session.scalars(scoped(request, stmt, model, site_id, **equal))
        return [out.model_validate(row, from_attributes=True) for row in rows]


async def visible(session: AsyncSession, request: web.Request, model: type[M], what: str,
                  row_id: int | str | None = None, *, lock: bool = False) -> M:
    """The row of the path's id (or `row_id`): 404 when it does not exist or lies outside the
    caller's scope. `lock`: SELECT … FOR UPDATE (a change that reads before it writes)."""
    key: int | str = path_id(request, what) if row_id is None else row_id
    row = await session.get(model, key, with_for_update=lock or None)
    if row is None:
        raise NotFoundError(what, key)
    scope_of(request).check(what, key, _site_of(row), _household_of(row))
    return row


async def scoped_get(request: web.Request, model: type[Base], what: str,
                     out: type[OutT]) -> OutT:
    """One row by the path's id, read into `out` (404 as `visible`)."""
    async with reading(request) as session:
        row = await visible(session, request, model, what)
        return out.model_validate(row, from_attributes=True)


async def refuse_taken(session: AsyncSession, model: type[Base], what: str,
                       except_id: int | None = None, **values: Any) -> None:
    """409 when another row of `model` already holds these values (its unique key, e.g.
    site_id and name), naming that row."""
    key = getattr(model, "id")  # noqa: B009
    stmt = select(key).where(*(getattr(model, k) == v for k, v in values.items()))
    if except_id is not None:
        stmt = stmt.where(key != except_id)
    existing = await session.scalar(stmt)
    if existing is not None:
        held = ", ".join(f"{k} {v!r}" if isinstance(v, str) else f"{k} {v}"
                         for k, v in values.items())
        zh = "，".join(f"{TEXTS.get(f'field_word.{k}', (k, k))[1]} {v}" for k, v in values.items()
                      if k != "site_id")
        raise ConflictError(f"{what} {existing} already has {held}", (
            "error.already_has", {"what": thing_word(what), "key": existing,
                                  "held": pair(held, zh or held)}))


async def scoped_delete(request: web.Request, model: type[Base], what: str, *,
                        recompile: bool = False) -> None:
    """Delete the path's row (404 as `visible`); `recompile`: every edge of the row's site gets
    its permissions compiled again after the commit."""
    async with writing(request) as change:
        row = await visible(change.session, request, model, what)
        await change.session.delete(row)
        if recompile:
            change.sites.add(_site_of(row))


__all__ = ["Out", "refuse_taken", "scoped", "scoped_delete", "scoped_get", "scoped_list",
           "visible"]
