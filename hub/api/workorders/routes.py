"""Work orders: list, read, open (staff: any; resident: a repair request for their unit), move
through their lifecycle, notes, parts, photos and the resident's rating.

Who sees what: admin everything; managers and guards their site; a technician the orders
assigned to them plus the unassigned open ones of their site and skills (which they may
accept); a resident their household's repair requests. Anything else answers 404.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage
from pydantic import ValidationError
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.core.auth import HOUSEHOLD_ROLES
from hub.api.core.endpoints import EndpointTable, _json_body, path_id
from hub.api.core.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
)
from hub.api.core.keys import CURRENT_USER
from hub.api.core.paging import newest_first, page_of
from hub.api.core.schemas import ErrorOut, ValidationErrorOut
from hub.api.core.scope import Scope, scope_of
from hub.api.core.store import reading, require_site, writing
from hub.api.workorders.schemas import (
    ChecklistIn,
    ChecklistItemOut,
    ContactOut,
    HistoryOut,
    NoteIn,
    NoteOut,
    PartIn,
    PartOut,
    PhotoIn,
    PhotoOut,
    PlaceOut,
    RatingIn,
    ReassignIn,
    TransitionIn,
    WorkOrderDetail,
    WorkOrderIn,
    WorkOrderList,
    WorkOrderOut,
    WorkOrderQuery,
)
from hub.models import (
    Building,
    Device,
    Edge,
    Household,
    Resident,
    ResidentAccount,
    Unit,
    User,
    utcnow,
)
from hub.texts import actor_text, reader_language, render_or, word
from hub.workorders.cycles import tick
from hub.workorders.models import (
    WorkOrder,
    WorkOrderHistory,
    WorkOrderNote,
    WorkOrderPart,
    WorkOrderPhoto,
)
from hub.workorders.service import (
    ACTIVE_STATES,
    Actor,
    create_order,
    record,
    skills_of,
    transition,
)

routes = EndpointTable(tag="work-orders")
# The clock of due times, overdue and history (replaced in tests that move time).
WORKORDER_CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("workorder_clock")
MAX_PHOTO_BYTES = 4 * 1024**2
MAX_PHOTOS_PER_ORDER = 8
PHOTO_URL = "/api/v1/work-order-photos/{}"
_MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
_UPLOAD = {
    "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
    "image/png": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {"schema": {
        "type": "object", "properties": {"photo": {"type": "string", "format": "binary"}},
        "required": ["photo"]}},
    "application/json": {"schema": PhotoIn.model_json_schema()},
}
WORKERS = frozenset({"admin", "company_admin", "manager", "technician"})
WRITERS = frozenset({"admin", "company_admin", "manager"})


def now_of(request: web.Request) -> datetime:
    clock = request.app.get(WORKORDER_CLOCK)
    return clock() if clock is not None else utcnow()


def actor_of(request: web.Request) -> Actor:
    user = request[CURRENT_USER]
    return Actor(name=user.username, user_id=user.id, role=user.role)


# --- who sees which order -----------------------------------------------------------------


async def _skills(session: AsyncSession, scope: Scope) -> list[str]:
    return await skills_of(session, scope.user_id) if scope.role == "technician" else []


def _visible(scope: Scope, skills: list[str]) -> ColumnElement[bool]:
    base = scope.where(WorkOrder.site_id, WorkOrder.household_id)
    if scope.role != "technician":
        return base
    pickable = and_(WorkOrder.state == "open", WorkOrder.assignee_id.is_(None),
                    WorkOrder.skill.in_(skills))
    return and_(base, or_(WorkOrder.assignee_id == scope.user_id, pickable))


def _sees(scope: Scope, order: WorkOrder, skills: list[str]) -> bool:
    if not scope.sees(order.site_id, order.household_id):
        return False
    if scope.role != "technician":
        return True
    return order.assignee_id == scope.user_id or (
        order.state == "open" and order.assignee_id is None and order.skill in skills)


async def _order(request: web.Request, session: AsyncSession, *, lock: bool = False
                 ) -> WorkOrder:
    """The path's order, or 404 when it is missing or outside what the caller may see."""
    order_id = path_id(request, "work order")
    stmt = select(WorkOrder).where(WorkOrder.id == order_id)
    order = await session.scalar(stmt.with_for_update() if lock else stmt)
    scope = scope_of(request)
    if order is None or not _sees(scope, order, await _skills(session, scope)):
        raise NotFoundError("work order", order_id)
    return order


# --- answers ------------------------------------------------------------------------------


def _overdue(order: WorkOrder, now: datetime) -> bool:
    return order.state in ACTIVE_STATES and order.due_at < now


def _out(order: WorkOrder, assignee: str | None, now: datetime) -> dict[str, Any]:
    return {
        "id": order.id, "site_id": order.site_id, "kind": order.kind, "source": order.source,
        "title": render_or(order.title_code, order.title_params, reader_language(), order.title),
        "title_code": order.title_code, "title_params": order.title_params,
        "state": order.state, "priority": order.priority, "skill": order.skill,
        "device_id": order.device_id, "unit_id": order.unit_id,
        "household_id": order.household_id, "fault_code": order.fault_code,
        "pm_due_on": order.pm_due_on, "assignee_id": order.assignee_id, "assignee": assignee,
        "requested_by": order.requested_by, "created_at": order.created_at,
        "due_at": order.due_at, "assigned_at": order.assigned_at,
        "started_at": order.started_at, "resolved_at": order.resolved_at,
        "closed_at": order.closed_at, "escalated_at": order.escalated_at,
        "overdue": _overdue(order, now), "rating": order.rating,
    }


async def detail(session: AsyncSession, order: WorkOrder, now: datetime) -> WorkOrderDetail:
    def rows(model: Any) -> Any:
        return select(model).where(model.order_id == order.id).order_by(model.id)

    history = list(await session.scalars(rows(WorkOrderHistory)))
    notes = list(await session.scalars(rows(WorkOrderNote)))
    parts = list(await session.scalars(rows(WorkOrderPart)))
    photos = (await session.execute(
        select(WorkOrderPhoto.id, WorkOrderPhoto.at, WorkOrderPhoto.content_type,
               WorkOrderPhoto.size)
        .where(WorkOrderPhoto.order_id == order.id).order_by(WorkOrderPhoto.id))).all()
    assignee = (await session.scalar(select(User.username).where(User.id == order.assignee_id))
                if order.assignee_id is not None else None)
    return WorkOrderDetail(
        **_out(order, assignee, now),
        description=render_or(order.description_code, order.description_params,
                              reader_language(), order.description),
        checklist=[ChecklistItemOut(**item) for item in order.checklist or []],
        rating_comment=order.rating_comment, rated_at=order.rated_at,
        history=[HistoryOut(at=h.at, user_id=h.user_id, actor=h.actor,
                            actor_text=actor_text(h.actor, reader_language()), action=h.action,
                            from_state=h.from_state, to_state=h.to_state,
                            assignee_id=h.assignee_id,
                            note=render_or(h.note_code, h.note_params, reader_language(), h.note)
                            if h.note_code else h.note) for h in history],
        notes=[NoteOut(id=n.id, at=n.at, user_id=n.user_id, author=n.author, text=n.text)
               for n in notes],
        parts=[PartOut(id=p.id, at=p.at, user_id=p.user_id, name=p.name, quantity=p.quantity)
               for p in parts],
        photos=[PhotoOut(id=pid, at=at, content_type=ctype, size=size,
                         url=PHOTO_URL.format(pid)) for pid, at, ctype, size in photos],
        place=await _place(session, order), contact=await _contact(session, order),
    )


async def _place(session: AsyncSession, order: WorkOrder) -> PlaceOut | None:
    if order.unit_id is not None:
        row = (await session.execute(
            select(Unit.number, Unit.floor, Building.name, Building.code)
            .join(Building, Building.id == Unit.building_id)
            .where(Unit.id == order.unit_id))).first()
        if row is not None:
            number, floor, name, code = row
            return PlaceOut(building=f"{name} ({code})", unit=number, floor=floor, device=None,
                            edge=None)
    if order.device_id is not None:
        found = (await session.execute(
            select(Device.name, Device.edge, Building.name, Building.code)
            .outerjoin(Edge, and_(Edge.site_id == Device.site_id, Edge.name == Device.edge))
            .outerjoin(Building, Building.id == Edge.building_id)
            .where(Device.id == order.device_id))).first()
        if found is not None:
            device, edge, name, code = found
            return PlaceOut(building=f"{name} ({code})" if name else None, unit=None,
                            floor=None, device=device, edge=edge)
    return None


async def _contact(session: AsyncSession, order: WorkOrder) -> ContactOut | None:
    """The resident who asked (their login's resident), else the first of the household."""
    resident = None
    if order.requested_by is not None:
        resident = await session.scalar(
            select(Resident).join(ResidentAccount, ResidentAccount.resident_id == Resident.id)
            .where(ResidentAccount.user_id == order.requested_by))
    if resident is None and order.household_id is not None:
        resident = await session.scalar(
            select(Resident).where(Resident.household_id == order.household_id)
            .order_by(Resident.phone.is_(None), Resident.id).limit(1))
    return None if resident is None else ContactOut(name=resident.name, phone=resident.phone)


# --- photos -------------------------------------------------------------------------------


def check_photo(data: bytes, field: str) -> str:
    """The content type of a JPEG or PNG (by its first bytes), or 422 naming why not."""
    if not data:
        raise InvalidError.one(field, "the photo is empty", "invalid.photo_empty")
    if len(data) > MAX_PHOTO_BYTES:
        raise InvalidError.one(field, f"the photo is {len(data)} bytes; at most "
                                      f"{MAX_PHOTO_BYTES} are accepted",
                               "invalid.photo_too_big", max=MAX_PHOTO_BYTES)
    for magic, content_type in _MAGIC.items():
        if data.startswith(magic):
            return content_type
    raise InvalidError.one(field, "not a JPEG or PNG image (checked by its first bytes)",
                           "invalid.photo_type")


def decode_photo(text: str, field: str) -> tuple[bytes, str]:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidError.one(field, "not valid base64", "invalid.base64") from exc
    return data, check_photo(data, field)


async def _add_photo(session: AsyncSession, order: WorkOrder, data: bytes, content_type: str,
                     user_id: int, now: datetime) -> WorkOrderPhoto:
    held = await session.scalar(select(func.count()).select_from(WorkOrderPhoto)
                                .where(WorkOrderPhoto.order_id == order.id))
    if (held or 0) >= MAX_PHOTOS_PER_ORDER:
        raise ConflictError(f"work order {order.id} already has {MAX_PHOTOS_PER_ORDER} photos",
                            ("error.wo_photos_full", {"id": order.id, "max": MAX_PHOTOS_PER_ORDER}))
    photo = WorkOrderPhoto(order_id=order.id, at=now, user_id=user_id,
                           content_type=content_type, size=len(data),
                           sha256=hashlib.sha256(data).hexdigest(), data=data)
    session.add(photo)
    await session.flush()
    return photo


async def _uploaded_photo(request: web.Request) -> bytes:
    """The photo of an upload: a raw image body, a multipart `photo` part, or base64 JSON."""
    ctype = request.content_type
    if ctype in ("image/jpeg", "image/png", "application/octet-stream"):
        data = bytearray()
        async for chunk in request.content.iter_chunked(64 * 1024):
            data += chunk
            if len(data) > MAX_PHOTO_BYTES:
                raise InvalidError.one("photo", f"more than {MAX_PHOTO_BYTES} bytes",
                                       "invalid.photo_too_big", max=MAX_PHOTO_BYTES)
        return bytes(data)
    if ctype == "multipart/form-data":
        try:
            reader = await request.multipart()
            async for part in reader:
                if isinstance(part, BodyPartReader) and part.name == "photo":
                    data = bytearray()
                    while chunk := await part.read_chunk():
                        data += chunk
                        if len(data) > MAX_PHOTO_BYTES:
                            raise InvalidError.one("photo", f"more than {MAX_PHOTO_BYTES} bytes",
                                                   "invalid.photo_too_big", max=MAX_PHOTO_BYTES)
                    return bytes(data)
        except (BadHttpMessage, ValueError) as exc:
            raise BadRequestError(f"the multipart body is malformed: {exc}",
                                  ("error.upload_malformed", {})) from exc
        raise BadRequestError("the multipart body has no part named `photo`",
                              ("error.upload_no_part", {"name": "photo"}))
    if ctype == "application/json":
        try:
            body = PhotoIn.model_validate(await _json_body(request))
        except ValidationError as exc:
            raise InvalidError.from_pydantic(exc) from exc
        return decode_photo(body.content_base64, "content_base64")[0]
    raise BadRequestError("send the photo as image/jpeg, image/png, multipart/form-data "
                          f"(part `photo`) or JSON with content_base64, not {ctype!r}",
                          ("error.upload_type", {"types": "JPEG, PNG"}))


# --- list, read, open -----------------------------------------------------------------------


@routes.get("/work-orders", query=WorkOrderQuery, response=WorkOrderList, roles=HOUSEHOLD_ROLES)
async def list_work_orders(request: web.Request, query: WorkOrderQuery) -> WorkOrderList:
    """Work orders you may see, newest first; filters and keyset paging."""
    scope = scope_of(request)
    scope.claim_site(query.site)
    now = now_of(request)
    async with reading(request) as session:
        stmt = (select(WorkOrder, User.username)
                .outerjoin(User, User.id == WorkOrder.assignee_id)
                .where(_visible(scope, await _skills(session, scope))))
        for column, value in ((WorkOrder.site_id, query.site), (WorkOrder.state, query.state),
                              (WorkOrder.assignee_id, query.assignee),
                              (WorkOrder.device_id, query.device),
                              (WorkOrder.priority, query.priority),
                              (WorkOrder.kind, query.kind)):
            if value is not None:
                stmt = stmt.where(column == value)
        if query.overdue is not None:
            late = and_(WorkOrder.state.in_(ACTIVE_STATES), WorkOrder.due_at < now)
            stmt = stmt.where(late if query.overdue else ~late)
        stmt = newest_first(stmt, WorkOrder.created_at, WorkOrder.id, query.cursor, int,
                            query.limit)
        rows = (await session.execute(stmt)).all()
    page, next_cursor = page_of(rows, query.limit, lambda r: (r[0].created_at, r[0].id))
    return WorkOrderList(items=[WorkOrderOut(**_out(order, name, now)) for order, name in page],
                         next_cursor=next_cursor)


@routes.get(r"/work-orders/{id:\d+}", response=WorkOrderDetail, roles=HOUSEHOLD_ROLES)
async def get_work_order(request: web.Request) -> WorkOrderDetail:
    """One order with its history, notes, parts and photos."""
    async with reading(request) as session:
        order = await _order(request, session)
        return await detail(session, order, now_of(request))


async def _staff_target(session: AsyncSession, scope: Scope, body: WorkOrderIn
                        ) -> tuple[str, int | None]:
    """The site (and household) of a staff order, from the unit, device or site it names."""
    sites: dict[str, str] = {}
    household: int | None = None
    if body.unit_id is not None:
        site = await session.scalar(select(Building.site_id).join(Unit, Unit.building_id
                                                                  == Building.id)
                                    .where(Unit.id == body.unit_id))
        if site is None or not scope.sees(site):
            raise InvalidError.unknown("unit_id", "unit", body.unit_id)
        sites["unit_id"] = site
        household = await session.scalar(select(Household.id)
                                         .where(Household.unit_id == body.unit_id))
    if body.device_id is not None:
        site = await session.scalar(select(Device.site_id).where(Device.id == body.device_id))
        if site is None or not scope.sees(site):
            raise InvalidError.unknown("device_id", "device", body.device_id)
        sites["device_id"] = site
    if body.site_id is not None:
        scope.claim_site(body.site_id)
        await require_site(session, body.site_id)
        sites["site_id"] = body.site_id
    if not sites:
        raise InvalidError.one("site_id", "name the site, a unit or a device",
                               "invalid.name_target")
    if len(set(sites.values())) > 1:
        field = max(sites)
        raise InvalidError.one(field, f"is in site {sites[field]!r}, the others in "
                                      f"{sorted(set(sites.values()) - {sites[field]})}",
                               "invalid.other_site")
    return next(iter(sites.values())), household


@routes.post("/work-orders", body=WorkOrderIn, response=WorkOrderDetail, status=201,
             roles=frozenset({"admin", "company_admin", "manager", "resident"}))
async def create_work_order(request: web.Request, body: WorkOrderIn) -> WorkOrderDetail:
    """Open an order (staff), or a repair request for your own unit (resident)."""
    scope = scope_of(request)
    photos = [decode_photo(p, f"photos.{i}") for i, p in enumerate(body.photos)]
    now, actor = now_of(request), actor_of(request)
    async with writing(request) as change:
        session = change.session
        household_id: int | None
        unit_id: int | None
        if scope.is_resident:
            for field in ("site_id", "device_id", "technician_id"):
                if getattr(body, field) is not None:
                    raise InvalidError.one(field, "a repair request names only your unit",
                                           "invalid.own_unit_only")
            household = (await session.get(Household, scope.household_id)
                         if scope.household_id is not None else None)
            if household is None:
                raise ForbiddenError("your login belongs to no household")
            if body.unit_id is not None and body.unit_id != household.unit_id:
                raise InvalidError.unknown("unit_id", "unit", body.unit_id)
            site_id, household_id, unit_id = household.site_id, household.id, household.unit_id
            kind, source = "repair", "resident"
        else:
            site_id, household_id = await _staff_target(session, scope, body)
            unit_id = body.unit_id
            kind, source = ("repair" if unit_id is not None else "manual"), "manager"
        order = await create_order(
            session, site_id=site_id, kind=kind, source=source, title=body.title,
            description=body.description, skill=body.skill, priority=body.priority, now=now,
            actor=actor, device_id=body.device_id, unit_id=unit_id, household_id=household_id,
            requested_by=actor.user_id, technician_id=body.technician_id)
        for data, content_type in photos:
            await _add_photo(session, order, data, content_type, scope.user_id, now)
        return await detail(session, order, now)


# --- lifecycle ----------------------------------------------------------------------------


async def _step(request: web.Request, action: str, note: str | None,
                technician_id: int | None = None) -> WorkOrderDetail:
    now = now_of(request)
    async with writing(request) as change:
        order = await _order(request, change.session, lock=True)
        await transition(change.session, order, action, actor_of(request), now, note=note,
                         technician_id=technician_id)
        return await detail(change.session, order, now)


@routes.post(r"/work-orders/{id:\d+}/accept", body=TransitionIn, response=WorkOrderDetail,
             roles=frozenset({"technician"}))
async def accept_work_order(request: web.Request, body: TransitionIn) -> WorkOrderDetail:
    """Take an unassigned open order of your skill (technicians): it becomes yours."""
    return await _step(request, "accept", body.note)


@routes.post(r"/work-orders/{id:\d+}/start", body=TransitionIn, response=WorkOrderDetail,
             roles=WORKERS)
async def start_work_order(request: web.Request, body: TransitionIn) -> WorkOrderDetail:
    """Start work on an assigned order (its technician, or a manager for them)."""
    return await _step(request, "start", body.note)


@routes.post(r"/work-orders/{id:\d+}/resolve", body=TransitionIn, response=WorkOrderDetail,
             roles=WORKERS)
async def resolve_work_order(request: web.Request, body: TransitionIn) -> WorkOrderDetail:
    """Mark the work done; the note says what was done."""
    return await _step(request, "resolve", body.note)


@routes.post(r"/work-orders/{id:\d+}/close", body=TransitionIn, response=WorkOrderDetail,
             roles=frozenset({"admin", "company_admin", "manager", "resident"}))
async def close_work_order(request: web.Request, body: TransitionIn) -> WorkOrderDetail:
    """Close a resolved order (a manager, or the resident confirming their repair)."""
    return await _step(request, "close", body.note)


@routes.post(r"/work-orders/{id:\d+}/reassign", body=ReassignIn, response=WorkOrderDetail,
             roles=WRITERS)
async def reassign_work_order(request: web.Request, body: ReassignIn) -> WorkOrderDetail:
    """Give the order to another technician of its site (null: choose by skill and load)."""
    return await _step(request, "assign", body.note, body.technician_id)


# --- notes, parts, photos, rating ---------------------------------------------------------


@routes.post(r"/work-orders/{id:\d+}/notes", body=NoteIn, response=NoteOut, status=201,
             roles=frozenset({"admin", "company_admin", "manager", "technician", "resident"}))
async def add_work_order_note(request: web.Request, body: NoteIn) -> NoteOut:
    """Add a note to an order you may see."""
    user = request[CURRENT_USER]
    async with writing(request) as change:
        order = await _order(request, change.session)
        note = WorkOrderNote(order_id=order.id, at=now_of(request), user_id=user.id,
                             author=user.username, text=body.text)
        change.session.add(note)
        await change.session.flush()
        return NoteOut(id=note.id, at=note.at, user_id=note.user_id, author=note.author,
                       text=note.text)


@routes.post(r"/work-orders/{id:\d+}/checklist", body=ChecklistIn, response=WorkOrderDetail,
             roles=WORKERS)
async def tick_work_order_checklist(request: web.Request, body: ChecklistIn) -> WorkOrderDetail:
    """Tick (true) or untick (false) items of a preventive order's checklist by code (its
    technician, or a manager); the order resolves only with every item ticked."""
    user = request[CURRENT_USER]
    now = now_of(request)
    async with writing(request) as change:
        order = await _order(request, change.session, lock=True)
        if user.role == "technician" and order.assignee_id != user.id:
            raise ConflictError(f"work order {order.id} is not assigned to you",
                                ("error.wo_not_yours", {"id": order.id}))
        tick(order, body.ticks, user.username, now)
        await change.session.flush()
        return await detail(change.session, order, now)


@routes.post(r"/work-orders/{id:\d+}/parts", body=PartIn, response=PartOut, status=201,
             roles=WORKERS)
async def add_work_order_part(request: web.Request, body: PartIn) -> PartOut:
    """Record a part used on the job (its technician, or a manager)."""
    user = request[CURRENT_USER]
    async with writing(request) as change:
        order = await _order(request, change.session)
        if user.role == "technician" and order.assignee_id != user.id:
            raise ConflictError(f"work order {order.id} is not assigned to you",
                                ("error.wo_not_yours", {"id": order.id}))
        if order.state == "closed":
            raise ConflictError(f"work order {order.id} is closed: no more parts",
                                ("error.wo_closed_parts", {"id": order.id}))
        part = WorkOrderPart(order_id=order.id, at=now_of(request), user_id=user.id,
                             name=body.name, quantity=body.quantity)
        change.session.add(part)
        await change.session.flush()
        return PartOut(id=part.id, at=part.at, user_id=part.user_id, name=part.name,
                       quantity=part.quantity)


@routes.post(r"/work-orders/{id:\d+}/photos", response=PhotoOut, status=201,
             roles=frozenset({"admin", "company_admin", "manager", "technician", "resident"}), upload=_UPLOAD,
             errors={413: ErrorOut, 422: ValidationErrorOut})
async def add_work_order_photo(request: web.Request) -> PhotoOut:
    """Attach a JPEG or PNG (at most 4 MiB): a raw image body, multipart part `photo`, or
    JSON {"content_base64": ...} (a JSON body is held to the API's 1 MiB, else 413)."""
    data = await _uploaded_photo(request)
    content_type = check_photo(data, "photo")
    now = now_of(request)
    async with writing(request) as change:
        order = await _order(request, change.session)
        photo = await _add_photo(change.session, order, data, content_type,
                                 request[CURRENT_USER].id, now)
        return PhotoOut(id=photo.id, at=photo.at, content_type=photo.content_type,
                        size=photo.size, url=PHOTO_URL.format(photo.id))


# the resident's household, the technician on the job and the managers: not the guards
@routes.get(r"/work-order-photos/{id:\d+}", roles=HOUSEHOLD_ROLES - {"guard"},
            produces=("image/jpeg", "image/png"))
async def get_work_order_photo(request: web.Request) -> web.Response:
    """A photo of an order you may see."""
    photo_id = path_id(request, "photo")
    scope = scope_of(request)
    async with reading(request) as session:
        row = (await session.execute(select(WorkOrderPhoto, WorkOrder)
                                     .join(WorkOrder, WorkOrder.id == WorkOrderPhoto.order_id)
                                     .where(WorkOrderPhoto.id == photo_id))).first()
        if row is None or not _sees(scope, row[1], await _skills(session, scope)):
            raise NotFoundError("photo", photo_id)
    photo = row[0]
    return web.Response(body=photo.data, content_type=photo.content_type,
                        headers={"Cache-Control": "private, max-age=3600"})


@routes.post(r"/work-orders/{id:\d+}/rating", body=RatingIn, response=WorkOrderDetail,
             status=201, roles=frozenset({"resident"}))
async def rate_work_order(request: web.Request, body: RatingIn) -> WorkOrderDetail:
    """Rate your closed repair, 1 to 5 stars, once."""
    user = request[CURRENT_USER]
    now = now_of(request)
    async with writing(request) as change:
        order = await _order(request, change.session, lock=True)
        if order.requested_by != user.id:
            raise ForbiddenError("only the resident who asked for this repair may rate it")
        if order.state != "closed":
            raise ConflictError(f"work order {order.id} is {order.state}: "
                                "a repair is rated once it is closed", ("error.wo_rate_closed", {
                                    "id": order.id,
                                    "state": word(f"wo_state.{order.state}", order.state)}))
        if order.rated_at is not None:
            raise ConflictError(f"work order {order.id} was already rated "
                                f"({order.rating} stars)",
                                ("error.wo_rated", {"id": order.id, "stars": order.rating}))
        order.rating, order.rating_comment, order.rated_at = body.stars, body.comment, now
        record(change.session, order, actor_of(request), "rated", now, order.state,
               f"{body.stars}/5 {body.comment}".strip())
        return await detail(change.session, order, now)


__all__ = ["WORKORDER_CLOCK", "routes"]
