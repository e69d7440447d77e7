"""The simulated checkpoint displays show the code wire.patrol gives for this minute, in digits
and as a QR code holding "<checkpoint> <code>" (what the guard's phone page reads)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from simulators.patrol_displays import add_display_routes, codes_now
from wire.patrol import display_code, step_of

SECRETS = {"CP1": "01" * 20, "CP2": "02" * 20}


async def test_the_displays_show_this_minutes_codes() -> None:
    app = web.Application()
    add_display_routes(app, "demo", SECRETS)
    async with TestClient(TestServer(app)) as client:
        data = await (await client.get("/patrol/displays.json")).json()
        page = await (await client.get("/patrol/displays")).text()
    step = step_of(datetime.now(UTC))
    assert data["codes"] in ({cp: display_code(s, "demo", cp, n) for cp, s in SECRETS.items()}
                             for n in (step, step + 1))  # the minute may turn in between
    shown = dict(re.findall(r'data-checkpoint="(CP\d)">(\d{6})</span><svg', page))
    assert shown in ({cp: display_code(s, "demo", cp, n) for cp, s in SECRETS.items()}
                     for n in (step, step + 1))
    assert page.count("<svg") == 2


def test_a_code_is_the_displays_for_the_time_given() -> None:
    at = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    assert codes_now("demo", SECRETS, at) == {
        cp: display_code(s, "demo", cp, step_of(at)) for cp, s in SECRETS.items()}
