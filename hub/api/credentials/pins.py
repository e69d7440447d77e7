"""Keypad PINs and the site's card format: what card + PIN doors and raw Wiegand readers
need. A PIN is stored only hashed (hub/credentials/pins.py) and never answered back; the edges
that have a card + PIN door get the hashes of their card holders in the next snapshot."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.core.auth import STAFF_ROLES, WRITER_ROLES
from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.errors import InvalidError, NotFoundError
from hub.api.core.keys import CURRENT_USER
from hub.api.core.schemas import SiteId, Strict
from hub.api.core.scope import scope_of
from hub.api.core.store import Change, reading, writing
from hub.api.credentials.signed import RESIDENT, my_resident
from hub.credentials.pins import PinError, check_pin, hash_pin, salt_of
from hub.models import Resident, Site
from hub.readers.formats import card_format
from hub.readers.models import CardFormatRow, ResidentPinRow
from hub.texts.validation import Refusal
from wire import CardFormatRule
from wire.permissions import WiegandBits

routes = EndpointTable(tag="readers")


class PinIn(Strict):
    pin: str = Field(min_length=1, max_length=16, description="4 to 8 digits")
    duress_pin: str | None = Field(
        default=None, min_length=1, max_length=16,
        description="opens like the PIN and silently raises a duress alarm to the guards")


class PinState(BaseModel):
    resident_id: int
    pin_set: bool
    duress_pin_set: bool


class CardFormatIn(Strict):
    site_id: SiteId
    wiegand: list[WiegandBits] | None = Field(default=None, min_length=1,
                                              description="raw formats the site's cards use")
    check_facility: bool | None = None
    facility_codes: list[int] | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _something(self) -> CardFormatIn:
        if not self.model_fields_set - {"site_id"}:
            raise Refusal("invalid.name_one_of",
                          "name at least one of wiegand, check_facility, facility_codes",
                          fields="wiegand, check_facility, facility_codes")
        return self


class CardFormatOut(CardFormatRule):
    site_id: str


class CardFormatList(BaseModel):
    items: list[CardFormatOut]


async def _store_pin(change: Change, resident: Resident, body: PinIn, who: str) -> PinState:
    try:
        pin = check_pin(body.pin, "pin")
        duress = None if body.duress_pin is None else check_pin(body.duress_pin, "duress_pin")
    except PinError as exc:
        raise InvalidError.one(exc.field, exc.reason, exc.code, **exc.params) from exc
    if duress is not None and duress == pin:
        raise InvalidError.one("duress_pin", "must differ from pin", "invalid.pin_same")
    main = hash_pin(pin)
    row = await change.session.get(ResidentPinRow, resident.id)
    if row is None:
        row = ResidentPinRow(resident_id=resident.id, site_id=resident.site_id)
        change.session.add(row)
    row.pin_hash = main
    row.duress_hash = None if duress is None else hash_pin(duress, salt_of(main))
    row.updated_by = who
    await change.session.flush()
    await change.touch(resident.site_id, residents=[resident.id])
    change.sites.add(resident.site_id)  # PINs are not in a card delta: a full snapshot
    return PinState(resident_id=resident.id, pin_set=True, duress_pin_set=duress is not None)


async def _resident(session: AsyncSession, request: web.Request) -> Resident:
    resident_id = path_id(request, "resident")
    resident = await session.get(Resident, resident_id)
    if resident is None:
        raise NotFoundError("resident", resident_id)
    scope_of(request).check("resident", resident_id, resident.site_id, resident.household_id)
    return resident


@routes.post(r"/residents/{id:\d+}/pin", body=PinIn, response=PinState, roles=WRITER_ROLES)
async def set_resident_pin(request: web.Request, body: PinIn) -> PinState:
    """Set a resident's keypad PIN (and duress PIN) for card + PIN doors; stored hashed."""
    async with writing(request) as change:
        resident = await _resident(change.session, request)
        return await _store_pin(change, resident, body, request[CURRENT_USER].username)


@routes.delete(r"/residents/{id:\d+}/pin", roles=WRITER_ROLES)
async def clear_resident_pin(request: web.Request) -> None:
    """Remove a resident's PINs: their card no longer opens card + PIN doors."""
    async with writing(request) as change:
        resident = await _resident(change.session, request)
        row = await change.session.get(ResidentPinRow, resident.id)
        if row is not None:  # none set: already as asked
            await change.session.delete(row)
            change.sites.add(resident.site_id)


@routes.post("/me/pin", body=PinIn, response=PinState, roles=RESIDENT)
async def set_my_pin(request: web.Request, body: PinIn) -> PinState:
    """Set my keypad PIN (and my duress PIN: it opens the door and silently alerts the guards)."""
    async with writing(request) as change:
        resident = await my_resident(request, change.session)
        return await _store_pin(change, resident, body, request[CURRENT_USER].username)


def _format_out(site_id: str, rule: CardFormatRule) -> CardFormatOut:
    return CardFormatOut(site_id=site_id, **rule.model_dump())


@routes.get("/card-formats", response=CardFormatList, roles=STAFF_ROLES)
async def list_card_formats(request: web.Request) -> CardFormatList:
    """Each site's card format in your scope: raw Wiegand lengths in use, facility codes checked."""
    scope = scope_of(request)
    async with reading(request) as session:
        sites = list(await session.scalars(select(Site.id).where(scope.where(Site.id))
                                           .order_by(Site.id)))
        return CardFormatList(items=[_format_out(s, await card_format(session, s))
                                     for s in sites])


@routes.post("/card-formats", body=CardFormatIn, response=CardFormatOut, roles=WRITER_ROLES)
async def update_card_format(request: web.Request, body: CardFormatIn) -> CardFormatOut:
    """Change a site's card format (the fields given); its edges get it in the next snapshot."""
    site_id = body.site_id
    scope_of(request).claim_site(site_id)
    async with writing(request) as change:
        session = change.session
        if await session.get(Site, site_id) is None:  # a field of the body, not the path
            raise InvalidError.unknown("site_id", "site", site_id, f"no site {site_id!r}")
        held = await card_format(session, site_id)
        merged = held.model_dump() | body.model_dump(exclude_unset=True, exclude={"site_id"})
        try:
            rule = CardFormatRule.model_validate(merged)
        except ValueError as exc:
            detail = str(exc).splitlines()[-1].strip()
            raise InvalidError.one("facility_codes", detail, "invalid.card_format",
                                   detail=detail) from exc
        row = await session.get(CardFormatRow, site_id)
        if row is None:
            row = CardFormatRow(site_id=site_id)
            session.add(row)
        row.wiegand = ",".join(str(b) for b in sorted(rule.wiegand))
        row.check_facility = rule.check_facility
        row.facility_codes = ",".join(str(c) for c in rule.facility_codes)
        await session.flush()
        change.sites.add(site_id)
        return _format_out(site_id, rule)
