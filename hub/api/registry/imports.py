"""CSV import of units, residents and households' vehicles: the whole file is checked first,
then every row goes in or none does (one transaction); a refusal lists each problem by line
and column.

The body is the CSV itself (`Content-Type: text/csv`) or a `multipart/form-data` upload
with one file part. UTF-8, with or without a BOM (Excel writes one); a header row names the
columns, in any order; blank lines are skipped. The columns are in docs/access.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import BadHttpMessage
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.core.endpoints import EndpointTable
from hub.api.core.errors import BadRequestError
from hub.api.core.schemas import IdNumber, Phone, ResidentType
from hub.api.core.scope import scope_of
from hub.api.core.store import require_site, writing
from hub.api.registry.schemas import (
    ImportOut,
    ImportQuery,
    ImportRejectedOut,
    RowProblemOut,
    UnitStatus,
)
from hub.models import Building, Household, Resident, Unit
from hub.texts import reader_language, render
from hub.texts.validation import problem_message, reason_text
from hub.vehicles.models import Vehicle
from wire.vehicles import Plate

routes = EndpointTable(tag="import")
_Good = TypeVar("_Good")  # a checked row, as each import's check gives it
# aiohttp's own limit on a plain body (client_max_size); an upload gets the same
MAX_UPLOAD_BYTES = 1024**2
MAX_PROBLEMS = 500  # enough to fix a file by; the count says how many more there were
_UPLOAD = {
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"],
        }
    },
}


class _Row(BaseModel):
    # an empty cell is a missing value (see `_rows`): the field's default, or "required"
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class UnitRow(_Row):
    building: str = Field(min_length=1, max_length=64)
    number: str = Field(min_length=1, max_length=32)
    floor: int | None = Field(default=None, ge=-10, le=300)
    area: float | None = Field(default=None, gt=0, le=100_000)
    status: UnitStatus = "vacant"


class ResidentRow(_Row):
    building: str = Field(min_length=1, max_length=64)
    unit: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    type: ResidentType | None = None
    phone: Phone | None = None
    id_number: IdNumber | None = None


class VehicleRow(_Row):
    building: str = Field(min_length=1, max_length=64)
    unit: str = Field(min_length=1, max_length=32)
    plate: Plate
    colour: str | None = Field(default=None, max_length=16)
    valid_until: AwareDatetime | None = None
    note: str = Field(default="", max_length=200)


@dataclass
class _Problems:
    items: list[RowProblemOut]
    total: int = 0

    def add(self, line: int, column: str, reason: str, code: str = "invalid.other",
            **params: Any) -> None:
        """A problem: `reason` in English, and for people `code` with `params` (hub/texts)
        in the reader's language, naming the column."""
        self.total += 1
        if len(self.items) < MAX_PROBLEMS:
            params = params if code != "invalid.other" or params else {"detail": reason}
            lang = reader_language()
            message = (problem_message(column, code, params, lang) if column
                       else render(code, params, lang))
            self.items.append(RowProblemOut(line=line, column=column, reason=reason,
                                            message=message))


class _Rejected(Exception):
    def __init__(self, problems: _Problems) -> None:
        super().__init__(f"{problems.total} problems")
        self.problems = problems


async def _upload(request: web.Request) -> bytes:
    if request.content_type == "multipart/form-data":
        try:
            return await _multipart_file(request)
        except (BadHttpMessage, ValueError) as exc:  # a malformed part header or boundary
            raise BadRequestError(f"the multipart body is malformed: {exc}",
                                  ("error.upload_malformed", {})) from exc
    if request.content_type in ("text/csv", "text/plain", "application/octet-stream"):
        return await request.read()
    raise BadRequestError(
        f"send the CSV as text/csv or multipart/form-data, not {request.content_type!r}",
        ("error.upload_type", {"types": "text/csv, multipart/form-data"}))


async def _multipart_file(request: web.Request) -> bytes:
    reader = await request.multipart()
    async for part in reader:
        if isinstance(part, BodyPartReader) and (part.filename or part.name == "file"):
            data = bytearray()
            while chunk := await part.read_chunk():
                data += chunk
                if len(data) > MAX_UPLOAD_BYTES:
                    raise web.HTTPRequestEntityTooLarge(
                        max_size=MAX_UPLOAD_BYTES, actual_size=len(data)
                    )
            return bytes(data)
    raise BadRequestError("the multipart body has no file part (name it `file`)",
                          ("error.upload_no_part", {"name": "file"}))


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems = _Problems([])
        problems.add(line, "", f"not UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
                     "import.not_utf8")
        raise _Rejected(problems) from exc


def _rows(
    text: str, model: type[_Row], problems: _Problems
) -> Iterator[tuple[int, _Row | None, dict[str, str]]]:
    """(line, parsed row or None when it has problems, raw cells) per data row; header and
    shape problems go to `problems`."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        problems.add(1, "", "the file is empty; a header row is expected", "import.empty")
        return
    header = [h.strip() for h in header]
    known = list(model.model_fields)
    required = [n for n, f in model.model_fields.items() if f.is_required()]
    for name in sorted({h for h in header if header.count(h) > 1}):
        problems.add(1, name, "the column appears twice", "import.column_twice")
    for name in header:
        if name not in known:
            problems.add(1, name, f"unknown column; the columns are {', '.join(known)}",
                         "import.unknown_column", columns=", ".join(known))
    for name in required:
        if name not in header:
            problems.add(1, name, "required column missing from the header",
                         "import.column_missing")
    if problems.total:
        return
    line = reader.line_num + 1
    for cells in reader:
        start, line = line, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.add(start, "", f"{len(cells)} fields, the header has {len(header)}",
                         "import.field_count", n=len(cells), header=len(header))
            continue
        raw = {h: c for h, c in zip(header, cells, strict=True) if c.strip()}
        try:
            yield start, model.model_validate(raw), raw
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                column = str(err["loc"][0]) if err["loc"] else ""
                code, params = reason_text(err)
                problems.add(start, column, err["msg"].removeprefix("Value error, "), code,
                             **params)
            yield start, None, raw


async def _buildings(session: AsyncSession, site_id: str) -> dict[str, int]:
    rows = await session.execute(
        select(Building.code, Building.id).where(Building.site_id == site_id)
    )
    return dict(rows.all())


async def _units(session: AsyncSession, site_id: str) -> dict[tuple[str, str], int]:
    rows = await session.execute(
        select(Building.code, Unit.number, Unit.id)
        .join(Unit, Unit.building_id == Building.id)
        .where(Building.site_id == site_id)
    )
    return {(code, number): uid for code, number, uid in rows}


async def _check_units(
    session: AsyncSession, site_id: str, text: str, problems: _Problems
) -> list[tuple[int, UnitRow]]:
    buildings = await _buildings(session, site_id)
    existing = await _units(session, site_id)
    seen: dict[tuple[str, str], int] = {}
    good: list[tuple[int, UnitRow]] = []
    count = 0
    for line, row, _ in _rows(text, UnitRow, problems):
        count += 1
        if row is None:
            continue
        assert isinstance(row, UnitRow)
        key = (row.building, row.number)
        if row.building not in buildings:
            problems.add(line, "building", f"unknown building {row.building!r} in {site_id!r}",
                         "import.unknown_building", building=row.building)
        elif key in existing:
            problems.add(line, "number", f"unit {row.number} of {row.building} already exists",
                         "import.unit_exists", unit=row.number, building=row.building)
        elif key in seen:
            problems.add(
                line, "number", f"unit {row.number} of {row.building} is also on line {seen[key]}",
                "import.also_on_line", row=seen[key],
            )
        else:
            seen[key] = line
            good.append((line, row))
    if count == 0 and not problems.total:
        problems.add(2, "", "no data rows after the header", "import.no_rows")
    return good


async def _check_residents(
    session: AsyncSession, site_id: str, text: str, problems: _Problems
) -> list[tuple[int, ResidentRow, int]]:
    units = await _units(session, site_id)
    known_ids = dict(
        (await session.execute(
            select(Resident.id_number, Resident.id).where(
                Resident.site_id == site_id, Resident.id_number.is_not(None)
            )
        )).all()
    )
    seen_ids: dict[str, int] = {}
    good: list[tuple[int, ResidentRow, int]] = []
    count = 0
    for line, row, _ in _rows(text, ResidentRow, problems):
        count += 1
        if row is None:
            continue
        assert isinstance(row, ResidentRow)
        unit_id = units.get((row.building, row.unit))
        ok = True
        if unit_id is None:
            problems.add(line, "unit", f"unknown unit {row.unit} of building {row.building!r}",
                         "import.unknown_unit", unit=row.unit, building=row.building)
            ok = False
        if row.id_number is not None:
            if row.id_number in known_ids:
                problems.add(
                    line,
                    "id_number",
                    f"already the ID number of resident {known_ids[row.id_number]}",
                    "import.id_taken", resident=known_ids[row.id_number],
                )
                ok = False
            elif row.id_number in seen_ids:
                problems.add(line, "id_number", f"also on line {seen_ids[row.id_number]}",
                             "import.also_on_line", row=seen_ids[row.id_number])
                ok = False
            else:
                seen_ids[row.id_number] = line
        if ok and unit_id is not None:
            good.append((line, row, unit_id))
    if count == 0 and not problems.total:
        problems.add(2, "", "no data rows after the header", "import.no_rows")
    return good


async def _households(session: AsyncSession, site_id: str, unit_ids: set[int]) -> dict[int, int]:
    """unit id -> household id for these units, making the missing households at once."""
    found = {
        unit: hid
        for unit, hid in await session.execute(
            select(Household.unit_id, Household.id).where(Household.site_id == site_id)
        )
        if unit in unit_ids
    }
    missing = sorted(unit_ids - found.keys())
    if missing:
        made = await session.execute(
            insert(Household).returning(Household.unit_id, Household.id),
            [{"site_id": site_id, "unit_id": u, "name": ""} for u in missing],
        )
        found.update(made.all())
    return found


def _rejected(exc: _Rejected) -> web.Response:
    shown = len(exc.problems.items)
    more = exc.problems.total - shown
    detail = f"nothing imported: {exc.problems.total} problems"
    if more:
        detail += f" (the first {shown} are listed)"
    body = ImportRejectedOut(detail=detail, rows=exc.problems.items)
    return web.json_response(body.model_dump(mode="json"), status=422)


async def _import(
    request: web.Request,
    query: ImportQuery,
    check: Callable[[AsyncSession, str, str, _Problems], Awaitable[list[_Good]]],
    insert_rows: Callable[[AsyncSession, str, list[_Good]], Awaitable[None]],
    *,
    touches_access: bool,
) -> ImportOut | web.Response:
    """One CSV import, all rows or none: every row checked first; with a problem nothing is
    written and the answer names each; a dry run stops after the checks. `touches_access`:
    the rows change who may enter, so the site's edges get new permissions."""
    scope_of(request).claim_site(query.site_id)
    try:
        text = _decode(await _upload(request))
        async with writing(request) as change:
            session = change.session
            await require_site(session, query.site_id)
            problems = _Problems([])
            good = await check(session, query.site_id, text, problems)
            if problems.total:
                raise _Rejected(problems)
            if not query.dry_run:
                await insert_rows(session, query.site_id, good)
                if touches_access:
                    change.sites.add(query.site_id)
    except _Rejected as exc:
        return _rejected(exc)
    return ImportOut(dry_run=query.dry_run, rows=len(good), created=len(good))


@routes.post(
    "/import/units",
    query=ImportQuery,
    response=ImportOut,
    upload=_UPLOAD,
    errors={422: ImportRejectedOut},
)
async def import_units(request: web.Request, query: ImportQuery) -> ImportOut | web.Response:
    """Import units from CSV (building, number, floor, area, status): all rows or none."""
    return await _import(request, query, _check_units, _insert_units, touches_access=False)


async def _insert_units(session: AsyncSession, site_id: str,
                        good: list[tuple[int, UnitRow]]) -> None:
    buildings = await _buildings(session, site_id)
    # one multi-row INSERT rather than 10,000 ORM objects: 8x faster
    await session.execute(
        insert(Unit),
        [
            {
                "building_id": buildings[row.building],
                "number": row.number,
                "floor": row.floor,
                "area": row.area,
                "status": row.status,
            }
            for _, row in good
        ],
    )


@routes.post(
    "/import/residents",
    query=ImportQuery,
    response=ImportOut,
    upload=_UPLOAD,
    errors={422: ImportRejectedOut},
)
async def import_residents(request: web.Request, query: ImportQuery) -> ImportOut | web.Response:
    """Import residents from CSV (building, unit, name, type, phone, id_number) into their
    units' households: all rows or none."""
    return await _import(request, query, _check_residents, _insert_residents,
                         touches_access=True)


async def _insert_residents(session: AsyncSession, site_id: str,
                            good: list[tuple[int, ResidentRow, int]]) -> None:
    households = await _households(session, site_id, {u for _, _, u in good})
    await session.execute(
        insert(Resident),
        [
            {
                "site_id": site_id,
                "unit_id": unit_id,
                "household_id": households[unit_id],
                "name": row.name,
                "type": row.type,
                "phone": row.phone,
                "id_number": row.id_number,
            }
            for _, row, unit_id in good
        ],
    )


async def _check_vehicles(
    session: AsyncSession, site_id: str, text: str, problems: _Problems
) -> list[tuple[int, VehicleRow, int]]:
    units = await _units(session, site_id)
    taken = dict((await session.execute(
        select(Vehicle.plate, Vehicle.id).where(Vehicle.site_id == site_id))).all())
    seen: dict[str, int] = {}
    good: list[tuple[int, VehicleRow, int]] = []
    count = 0
    for line, row, _ in _rows(text, VehicleRow, problems):
        count += 1
        if row is None:
            continue
        assert isinstance(row, VehicleRow)
        unit_id = units.get((row.building, row.unit))
        if unit_id is None:
            problems.add(line, "unit", f"unknown unit {row.unit} of building {row.building!r}",
                         "import.unknown_unit", unit=row.unit, building=row.building)
        elif row.plate in taken:
            problems.add(line, "plate", f"plate {row.plate} is already registered "
                         f"(vehicle {taken[row.plate]})", "import.plate_taken",
                         plate=row.plate, vehicle=taken[row.plate])
        elif row.plate in seen:
            problems.add(line, "plate", f"also on line {seen[row.plate]}",
                         "import.also_on_line", row=seen[row.plate])
        else:
            seen[row.plate] = line
            good.append((line, row, unit_id))
    if count == 0 and not problems.total:
        problems.add(2, "", "no data rows after the header", "import.no_rows")
    return good


@routes.post(
    "/import/vehicles",
    query=ImportQuery,
    response=ImportOut,
    upload=_UPLOAD,
    errors={422: ImportRejectedOut},
)
async def import_vehicles(request: web.Request, query: ImportQuery) -> ImportOut | web.Response:
    """Import households' vehicles from CSV (building, unit, plate, colour, valid_until, note)
    into their units' households: all rows or none."""
    return await _import(request, query, _check_vehicles, _insert_vehicles,
                         touches_access=True)


async def _insert_vehicles(session: AsyncSession, site_id: str,
                           good: list[tuple[int, VehicleRow, int]]) -> None:
    households = await _households(session, site_id, {u for _, _, u in good})
    await session.execute(insert(Vehicle), [
        {"site_id": site_id, "household_id": households[unit_id],
         "plate": row.plate, "colour": row.colour, "valid_until": row.valid_until,
         "lanes": [], "note": row.note}
        for _, row, unit_id in good])
