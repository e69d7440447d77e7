"""The notices marked for boards, per edge: those of the edge's site that are for the whole site
or for the edge's building, not yet expired, each in Chinese and English (a rule's notice
rendered from its text code; a manager's as written). Only edges with a board get them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import Device, Edge
from hub.rules.models import Alarm, Notice
from hub.texts.render import render_or
from wire.boards import BoardNotice

DEVICE_TYPE = "led_board"
# an open alarm of these types anywhere on the site puts the fire instruction on every board
# of the site (the edge whose panel it is already shows it: it decided at once)
BOARD_FIRES = frozenset({"fire_alarm"})


def _has_board() -> Exists:
    return select(Device.id).where(Device.edge_id == Edge.id,
                                   Device.device_type == DEVICE_TYPE).exists()


async def edges_with_boards(session: AsyncSession, site_id: str,
                            building_id: int | None) -> list[int]:
    """The edges whose boards show a notice of this scope (the site, or one building)."""
    stmt = select(Edge.id).where(Edge.site_id == site_id, _has_board())
    if building_id is not None:
        stmt = stmt.where(Edge.building_id == building_id)
    return sorted(await session.scalars(stmt))


async def notices_for(session: AsyncSession, edge: Edge, now: datetime) -> list[BoardNotice]:
    """What `edge`'s boards rotate (empty when it has no board)."""
    boards = await session.scalar(select(Device.id).where(
        Device.edge_id == edge.id, Device.device_type == DEVICE_TYPE).limit(1))
    if boards is None:
        return []
    rows = await session.scalars(select(Notice).where(
        Notice.site_id == edge.site_id, Notice.on_boards.is_(True), Notice.unit_id.is_(None),
        or_(Notice.building_id.is_(None), Notice.building_id == edge.building_id),
        or_(Notice.valid_until.is_(None), Notice.valid_until > now))
        .order_by(Notice.valid_from, Notice.id))
    out = []
    for n in rows:
        code = n.text_code
        title = {lang: render_or(code and f"{code}.title", n.text_params, lang, n.title)
                 for lang in ("zh", "en")}
        body = {lang: render_or(code and f"{code}.body", n.text_params, lang, n.body)
                for lang in ("zh", "en")}
        out.append(BoardNotice(id=n.id, title_zh=title["zh"][:200], title_en=title["en"][:200],
                               body_zh=body["zh"][:4000], body_en=body["en"][:4000],
                               valid_from=n.valid_from, valid_until=n.valid_until))
    return out


async def site_on_fire(session: AsyncSession, site_id: str) -> bool:
    """Whether a fire alarm of the site is open (not cleared)."""
    return await session.scalar(select(Alarm.id).where(
        Alarm.site_id == site_id, Alarm.type.in_(BOARD_FIRES),
        Alarm.cleared_at.is_(None)).limit(1)) is not None


__all__ = ["BOARD_FIRES", "DEVICE_TYPE", "edges_with_boards", "notices_for", "site_on_fire"]
