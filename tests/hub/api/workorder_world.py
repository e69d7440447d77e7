"""Work orders, technicians and photos of the role-matrix world (see world.py).

Both sites have a technician with the skills `plumbing` and `elevator`; each place has a
repair order (home: the resident user's own request) assigned to its site's technician, with
a photo. Fresh orders in a given state are made straight in the database, for the lifecycle
calls of the matrix.
"""

from __future__ import annotations

import base64
import struct
import zlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from hub.models import Household, User
from hub.workorders import WorkOrder, WorkOrderHistory
from tests.hub.api.conftest import PASSWORD

if TYPE_CHECKING:
    from tests.hub.api.world import World

SKILLS = ["elevator", "plumbing"]
STATE_OF = {
    "work-orders": "assigned",
    "work-orders-open": "open",
    "work-orders-in-progress": "in_progress",
    "work-orders-resolved": "resolved",
    "work-orders-closed": "closed",
}


def png(width: int = 1, height: int = 1) -> bytes:
    """A real (tiny, grey) PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0,
                                                             0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PNG_B64 = base64.b64encode(png()).decode()


async def add_work_orders(world: World, resident_user: int) -> None:
    from tests.hub.api.world import SITE, unique

    technicians = {}
    for site in ("sunrise", "moonbay"):
        if site == "sunrise":  # the technician user of the world
            async with world.sessions() as session:
                tech = await session.scalar(select(User.id).where(User.username == "technician"))
        else:
            tech = await world.make("POST", "/users", {
                "username": unique("tech"), "password": PASSWORD, "role": "technician",
                "site_id": site})
        await world.call("PATCH", f"/technicians/{tech}", json={"skills": SKILLS}, status=200)
        technicians[site] = tech
    world.ids["technicians"] = {p: technicians[SITE[p]] for p in SITE}
    world.ids["resident-user"] = {"home": resident_user}
    orders, photos = {}, {}
    for place in SITE:
        body = {"title": f"漏水 {place}", "skill": "plumbing", "unit_id": world.unit[place]}
        if place == "home":  # the resident's own request, by the resident
            _, made = await world.call("POST", "/work-orders", role="resident", json=body,
                                       status=201)
        else:
            body["technician_id"] = technicians[SITE[place]]
            _, made = await world.call("POST", "/work-orders", json=body, status=201)
        assert made["assignee_id"] == technicians[SITE[place]], made
        orders[place] = made["id"]
        _, photo = await world.call("POST", f"/work-orders/{made['id']}/photos",
                                    json={"content_base64": PNG_B64}, status=201)
        photos[place] = photo["id"]
    world.ids["work-orders"], world.ids["work-order-photos"] = orders, photos
    world.ids["equipment"] = dict(world.ids["devices"])


async def fresh_work_order(world: World, resource: str, place: str) -> int:
    """A repair order of the place's household in the state the resource names; assigned
    to the site's technician unless open; the home one requested by the resident user."""
    from tests.hub.api.world import SITE

    state = STATE_OF[resource]
    now = datetime.now(UTC)
    async with world.sessions() as session, session.begin():
        household = await session.scalar(
            select(Household.id).where(Household.unit_id == world.unit[place]))
        order = WorkOrder(
            site_id=SITE[place], kind="repair", source="resident", title="门铃坏了",
            description="", skill="plumbing", priority="normal", state=state,
            unit_id=world.unit[place], household_id=household,
            requested_by=world.ids["resident-user"]["home"] if place == "home" else None,
            assignee_id=None if state == "open" else world.ids["technicians"][place],
            created_at=now, due_at=now + timedelta(days=3),
            resolved_at=now if state in ("resolved", "closed") else None,
            closed_at=now if state == "closed" else None)
        session.add(order)
        await session.flush()
        session.add(WorkOrderHistory(order_id=order.id, at=now, actor="test", action="opened",
                                     from_state=None, to_state=state))
        return order.id
