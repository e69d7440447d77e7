"""The checkpoints' small displays, simulated (added to the demo's control app): each shows
the code its secret gives for the current minute (wire.patrol), as the real display on the
wall does, in digits and as a QR code. GET /patrol/displays is a page a person reads or
scans (it refreshes itself);
GET /patrol/displays.json the same as data."""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import UTC, datetime

import segno
from aiohttp import web

from wire.patrol import STEP_S, display_code, step_of

DISPLAYS = web.AppKey("patrol_displays", tuple[str, dict[str, str]])


def add_display_routes(app: web.Application, site: str, secrets: Mapping[str, str]) -> None:
    app[DISPLAYS] = (site, dict(secrets))
    app.router.add_get("/patrol/displays", _page)
    app.router.add_get("/patrol/displays.json", _data)


def codes_now(site: str, secrets: Mapping[str, str], now: datetime | None = None
              ) -> dict[str, str]:
    step = step_of(now or datetime.now(UTC))
    return {cp: display_code(secret, site, cp, step) for cp, secret in sorted(secrets.items())}


async def _data(request: web.Request) -> web.Response:
    site, secrets = request.app[DISPLAYS]
    return web.json_response({"site": site, "step_s": STEP_S, "codes": codes_now(site, secrets)})


async def _page(request: web.Request) -> web.Response:
    site, secrets = request.app[DISPLAYS]
    # each display's QR code holds "<checkpoint> <code>", as the phone page reads it
    cells = "".join(
        f'<div class="d"><b>{html.escape(cp)}</b><span data-checkpoint="{html.escape(cp)}">'
        f"{code}</span>{segno.make(f'{cp} {code}', error='m').svg_inline(scale=4)}</div>"
        for cp, code in codes_now(site, secrets).items())
    return web.Response(content_type="text/html", text=(
        '<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" '
        'content="5"><title>Checkpoint displays 巡更点显示屏</title><style>body{font:16px '
        "sans-serif;display:flex;gap:12px;flex-wrap:wrap}.d{border:2px solid #333;padding:12px;"
        "border-radius:8px}.d span{display:block;font:32px monospace}</style></head><body>"
        f"{cells}</body></html>"))


__all__ = ["DISPLAYS", "add_display_routes", "codes_now"]
