"""The LED boards page: each board of the manager's sites with the picture it reports showing
(its own dots, read back by the edge: exactly what the board shows) and its text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select

from hub.api.core.keys import COMPANY_SITES
from hub.api.core.scope import scope_for
from hub.api.core.store import reading
from hub.boards.notices import DEVICE_TYPE
from hub.models import Device, User


def _reading(device: Device, name: str) -> Any:
    return (device.telemetry or {}).get(name, {}).get("value")


async def led_boards(request: web.Request, user: User) -> dict[str, Any]:
    async with reading(request) as session:
        stmt = select(Device).where(Device.device_type == DEVICE_TYPE)
        stmt = stmt.where(scope_for(user, request.get(COMPANY_SITES)).where(Device.site_id))
        devices = list(await session.scalars(stmt.order_by(Device.site_id, Device.name)))
    boards = []
    for d in devices:
        frame = (d.telemetry or {}).get("frame_png", {})
        boards.append({
            "name": d.name, "label": d.label or d.name, "edge": d.edge, "status": d.status,
            "frame": _reading(d, "frame_png"), "text": _reading(d, "shown_text") or "",
            "emergency": bool(_reading(d, "emergency")),
            "at": datetime.fromisoformat(frame["ts"]) if frame.get("ts") else None})
    return {"boards": boards}
