"""Card credentials. Revoking is `PATCH {"status": "revoked"}`: the row stays for history."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.core.auth import HOUSEHOLD_ROLES
from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.errors import ConflictError, InvalidError, NotFoundError
from hub.api.core.paging import like, offset_total
from hub.api.core.scope import Scope, scope_of
from hub.api.core.store import reading, writing
from hub.api.credentials.schemas import (
    CardCreate,
    CardList,
    CardOut,
    CardQuery,
    CardReplace,
    CardState,
    CardUpdate,
)
from hub.models import CardCredential, Resident
from hub.texts import word
from hub.texts.validation import field_word

routes = EndpointTable(tag="cards")
_ITEM = r"/cards/{id:\d+}"


def card_state(card: CardCredential, now: datetime | None = None) -> CardState:
    """As the edge decides: a non-active status wins, then the validity window."""
    now = now or datetime.now(UTC)
    if card.status != "active":
        return card.status  # type: ignore[return-value]  # the column holds one of CardStatus
    if card.valid_until is not None and card.valid_until <= now:
        return "expired"
    if card.valid_from is not None and card.valid_from > now:
        return "not_yet_valid"
    return "active"


def _state_clause(state: CardState, now: datetime) -> ColumnElement[bool]:
    if state == "expired":
        return and_(CardCredential.status == "active", CardCredential.valid_until <= now)
    if state == "not_yet_valid":
        return and_(
            CardCredential.status == "active",
            CardCredential.valid_from > now,
            (CardCredential.valid_until.is_(None)) | (CardCredential.valid_until > now),
        )
    if state == "active":
        return and_(
            CardCredential.status == "active",
            (CardCredential.valid_until.is_(None)) | (CardCredential.valid_until > now),
            (CardCredential.valid_from.is_(None)) | (CardCredential.valid_from <= now),
        )
    return CardCredential.status == state


async def _visible(session: AsyncSession, scope: Scope, card_id: int) -> CardCredential:
    card = await session.get(CardCredential, card_id)
    if card is None:
        raise NotFoundError("card", card_id)
    household = await session.scalar(
        select(Resident.household_id).where(Resident.id == card.resident_id)
    )
    scope.check("card", card_id, card.site_id, household)
    return card


def card_out(card: CardCredential, holder: str | None = None) -> CardOut:
    return CardOut(
        holder=holder,
        id=card.id,
        site_id=card.site_id,
        resident_id=card.resident_id,
        card_number=card.card_number,
        facility_code=card.facility_code,
        status=card.status,  # type: ignore[arg-type]  # the column holds one of CardStatus
        valid_from=card.valid_from,
        valid_until=card.valid_until,
        created_at=card.created_at,
        updated_at=card.updated_at,
        state=card_state(card),
    )


async def _resident(session: AsyncSession, resident_id: int, scope: Scope) -> Resident:
    resident = await session.get(Resident, resident_id)
    if resident is None or not scope.sees(resident.site_id, resident.household_id):
        raise InvalidError.unknown("resident_id", "resident", resident_id)
    return resident


async def _refuse_duplicate(
    session: AsyncSession, site_id: str, card_number: str, except_id: int | None = None
) -> None:
    stmt = select(CardCredential.id).where(
        CardCredential.site_id == site_id, CardCredential.card_number == card_number
    )
    if except_id is not None:
        stmt = stmt.where(CardCredential.id != except_id)
    existing = await session.scalar(stmt)
    if existing is not None:
        raise ConflictError(
            f"card number {card_number} is already card {existing} in site {site_id!r}",
            ("error.taken", {"what": field_word("card_number"), "value": card_number,
                             "holder": f"#{existing}"}))


async def _reload(session: AsyncSession, card_id: int) -> CardCredential:
    card = await session.scalar(
        select(CardCredential)
        .where(CardCredential.id == card_id)
        .execution_options(populate_existing=True)
    )
    assert card is not None  # written in this very transaction
    return card


async def _answer(session: AsyncSession, card: CardCredential) -> CardOut:
    """One card as every answer gives it, the holder's name included (as in the list)."""
    name = await session.scalar(select(Resident.name).where(Resident.id == card.resident_id))
    return card_out(card, name)


@routes.get("/cards", query=CardQuery, response=CardList, roles=HOUSEHOLD_ROLES)
async def list_cards(request: web.Request, query: CardQuery) -> CardList:
    """List cards in your scope (a resident: their household's), filtered by site, resident,
    status or state, searched by card number or holder's name, a page at a time."""
    scope = scope_of(request)
    scope.claim_site(query.site_id)
    where = [scope.where(CardCredential.site_id, Resident.household_id)]  # joined below
    if query.state is not None:
        where.append(_state_clause(query.state, datetime.now(UTC)))
    if query.site_id is not None:
        where.append(CardCredential.site_id == query.site_id)
    if query.resident_id is not None:
        where.append(CardCredential.resident_id == query.resident_id)
    if query.status is not None:
        where.append(CardCredential.status == query.status)
    if query.q is not None:
        pattern = like(query.q.strip())
        where.append(or_(
            CardCredential.card_number.ilike(pattern, escape="\\"),
            CardCredential.resident_id.in_(
                select(Resident.id).where(Resident.name.ilike(pattern, escape="\\")))))
    stmt = (select(CardCredential, Resident.name)
            .join(Resident, Resident.id == CardCredential.resident_id)
            .where(*where).order_by(CardCredential.id).offset(query.offset))
    if query.limit is not None:
        stmt = stmt.limit(query.limit)
    async with reading(request) as session:
        items = [card_out(c, name) for c, name in await session.execute(stmt)]
        total = await offset_total(
            session, len(items), query.offset, query.limit,
            select(func.count()).select_from(CardCredential)
            .join(Resident, Resident.id == CardCredential.resident_id).where(*where))
        return CardList(items=items, total=total)


@routes.post("/cards", body=CardCreate, response=CardOut, status=201)
async def create_card(request: web.Request, body: CardCreate) -> CardOut:
    """Issue a card to a resident; the card belongs to the resident's site."""
    async with writing(request) as change:
        session = change.session
        resident = await _resident(session, body.resident_id, scope_of(request))
        await _refuse_duplicate(session, resident.site_id, body.card_number)
        card = CardCredential(site_id=resident.site_id, **body.model_dump())
        session.add(card)
        await session.flush()
        await change.touch(card.site_id, residents=[card.resident_id])
        return await _answer(session, await _reload(session, card.id))


@routes.get(_ITEM, response=CardOut, roles=HOUSEHOLD_ROLES)
async def get_card(request: web.Request) -> CardOut:
    """One card."""
    async with reading(request) as session:
        card = await _visible(session, scope_of(request), path_id(request, "card"))
        return await _answer(session, card)


@routes.patch(_ITEM, body=CardUpdate, response=CardOut)
async def update_card(request: web.Request, body: CardUpdate) -> CardOut:
    """Change a card: status (revoke, report lost, suspend), validity, number or holder."""
    async with writing(request) as change:
        session = change.session
        scope = scope_of(request)
        card = await _visible(session, scope, path_id(request, "card"))
        given = body.model_fields_set
        if "resident_id" in given and body.resident_id != card.resident_id:
            assert body.resident_id is not None  # refused as null by the model
            resident = await _resident(session, body.resident_id, scope)
            if resident.site_id != card.site_id:
                raise InvalidError.one(
                    "resident_id",
                    f"resident {resident.id} is in another site than {card.site_id!r}",
                    "invalid.other_site",
                )
        if "card_number" in given and body.card_number != card.card_number:
            assert body.card_number is not None
            await _refuse_duplicate(session, card.site_id, body.card_number, except_id=card.id)
        valid_from = body.valid_from if "valid_from" in given else card.valid_from
        valid_until = body.valid_until if "valid_until" in given else card.valid_until
        if valid_from is not None and valid_until is not None and valid_until <= valid_from:
            raise InvalidError.one("valid_until", "valid_until must be after valid_from",
                                   "invalid.after", other=field_word("valid_from"))
        holders = {card.resident_id}
        for name in sorted(given):
            setattr(card, name, getattr(body, name))
        await session.flush()
        await change.touch(card.site_id, residents=holders | {card.resident_id})
        return await _answer(session, await _reload(session, card.id))


@routes.post(r"/cards/{id:\d+}/replace", body=CardReplace, response=CardOut, status=201)
async def replace_card(request: web.Request, body: CardReplace) -> CardOut:
    """Replace a card: the holder gets the new number with the old one's validity, and the
    old card is revoked (or marked lost) in the same transaction: the door never honours both."""
    async with writing(request) as change:
        session = change.session
        old = await _visible(session, scope_of(request), path_id(request, "card"))
        if old.status in ("revoked", "lost"):
            raise ConflictError(
                f"card {old.id} is {old.status} already; issue a new card instead",
                ("error.card_final", {"card": old.id,
                                      "status": word(f"value.{old.status}", old.status)}))
        await _refuse_duplicate(session, old.site_id, body.card_number)
        old.status = body.old_status
        card = CardCredential(site_id=old.site_id, resident_id=old.resident_id,
                              card_number=body.card_number, facility_code=body.facility_code,
                              status="active", valid_from=old.valid_from,
                              valid_until=old.valid_until)
        session.add(card)
        await session.flush()
        await change.touch(card.site_id, residents=[card.resident_id])
        return await _answer(session, await _reload(session, card.id))


@routes.delete(_ITEM)
async def delete_card(request: web.Request) -> None:
    """Remove a card outright (prefer revoking, which keeps it on record)."""
    async with writing(request) as change:
        card = await _visible(change.session, scope_of(request), path_id(request, "card"))
        await change.touch(card.site_id, residents=[card.resident_id])
        await change.session.delete(card)
