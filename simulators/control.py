"""HTTP control of running door simulators, so a CLI in another process can drive them.

Serve `create_control_app(doors)` on 127.0.0.1 only: it moves doors and presents cards.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from simulators.osdp_door import OsdpDoorSimulator

DOORS = web.AppKey("doors", dict[str, OsdpDoorSimulator])
_RECENT_CHANGES = 10


def create_control_app(doors: dict[str, OsdpDoorSimulator]) -> web.Application:
    app = web.Application()
    app[DOORS] = doors
    app.router.add_get("/doors", _list_doors)
    app.router.add_post("/doors/{door}/swipe", _swipe)
    app.router.add_post("/doors/{door}/contact", _contact)
    app.router.add_post("/doors/{door}/exit", _exit)
    app.router.add_post("/doors/{door}/qr", _qr)
    app.router.add_post("/doors/{door}/wiegand", _wiegand)
    app.router.add_post("/doors/{door}/keys", _keys)
    app.router.add_post("/doors/{door}/tamper", _tamper)
    app.router.add_post("/doors/{door}/power", _power)
    return app


class ControlError(Exception):
    """The control server refused a request or could not be reached."""


async def _request(method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        async with aiohttp.ClientSession() as session, session.request(
            method, url, json=body
        ) as resp:
            reply: dict[str, Any] = await resp.json()
            if resp.status >= 400:
                raise ControlError(f"{method} {url} failed ({resp.status}): {reply.get('error')}")
            return reply
    except aiohttp.ClientError as exc:
        raise ControlError(f"cannot reach the simulator at {url}: {exc}") from exc


async def swipe(control_url: str, door: str, card: str) -> dict[str, Any]:
    """Present `card` at `door` through a running control server; returns its reply."""
    return await _request("POST", f"{control_url.rstrip('/')}/doors/{door}/swipe", {"card": card})


async def scan_qr(control_url: str, door: str, text: str) -> dict[str, Any]:
    """Show a QR code (its text, e.g. a token from /api/v1/me/qr) to `door`'s reader."""
    return await _request("POST", f"{control_url.rstrip('/')}/doors/{door}/qr", {"text": text})


async def contact(control_url: str, door: str, is_open: bool) -> dict[str, Any]:
    """Open or close `door` (its contact input)."""
    return await _request(
        "POST", f"{control_url.rstrip('/')}/doors/{door}/contact", {"open": is_open}
    )


async def press_exit(control_url: str, door: str) -> dict[str, Any]:
    """Press the request-to-exit button of `door`."""
    return await _request("POST", f"{control_url.rstrip('/')}/doors/{door}/exit")


async def wiegand(control_url: str, door: str, facility: int, card: int,
                  bits: int = 26) -> dict[str, Any]:
    """Present a card whose raw Wiegand bits (26 or 34, parity included) the reader passes on."""
    return await _request("POST", f"{control_url.rstrip('/')}/doors/{door}/wiegand",
                          {"facility": facility, "card": card, "bits": bits})


async def keys(control_url: str, door: str, pressed: str) -> dict[str, Any]:
    """Press keys on `door`'s keypad (digits, * and #)."""
    return await _request("POST", f"{control_url.rstrip('/')}/doors/{door}/keys",
                          {"keys": pressed})


async def tamper(control_url: str, door: str, tampered: bool) -> dict[str, Any]:
    """Open (True) or close the reader's tamper switch."""
    return await _request("POST", f"{control_url.rstrip('/')}/doors/{door}/tamper",
                          {"tampered": tampered})


async def power(control_url: str, door: str, failed: bool) -> dict[str, Any]:
    """The reader reports a power failure (True) or its power back."""
    return await _request("POST", f"{control_url.rstrip('/')}/doors/{door}/power",
                          {"failed": failed})


async def doors(control_url: str) -> dict[str, Any]:
    """Every simulated door's relay and reader state."""
    return await _request("GET", f"{control_url.rstrip('/')}/doors")


def door_state(name: str, door: OsdpDoorSimulator) -> dict[str, Any]:
    return {
        "door": name,
        "address": door.address,
        "port": door.port,
        "online": door.online,
        "relay": door.relay,
        "inputs": door.inputs,
        "relay_changes": [{"at": at, "on": on} for at, on in door.relay_changes[-_RECENT_CHANGES:]],
        "last_led": door.last_led,
        "beeps": len(door.beeps),
        "install_mode": door.scbk is None,
        "tamper": door.tamper,
        "power_fail": door.power_fail,
    }


async def _list_doors(request: web.Request) -> web.Response:
    doors = request.app[DOORS]
    return web.json_response({"doors": [door_state(n, d) for n, d in sorted(doors.items())]})


async def _swipe(request: web.Request) -> web.Response:
    name, door = _door(request)
    body = await _body(request)
    card = body.get("card")
    if not isinstance(card, str) or not card.isdigit():
        raise _unprocessable("card", 'must be a string of decimal digits, e.g. "1001"')
    await _act(name, door.present_card, card)
    return web.json_response({"door": name, "card": card, "presented": True})


async def _qr(request: web.Request) -> web.Response:
    name, door = _door(request)
    body = await _body(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.isascii() or not 0 < len(text) <= 128:
        raise _unprocessable("text", "must be 1 to 128 ASCII characters (a QR token)")
    await _act(name, door.present_qr, text)
    return web.json_response({"door": name, "scanned": True})


async def _wiegand(request: web.Request) -> web.Response:
    name, door = _door(request)
    body = await _body(request)
    bits = body.get("bits", 26)
    if bits not in (26, 34):
        raise _unprocessable("bits", "must be 26 or 34")
    facility, card = body.get("facility"), body.get("card")
    if not isinstance(facility, int) or not 0 <= facility < (256 if bits == 26 else 65536):
        raise _unprocessable("facility", f"must be an integer that fits the {bits}-bit format")
    if not isinstance(card, int) or not 0 <= card < 65536:
        raise _unprocessable("card", "must be an integer 0 to 65535")
    await _act(name, door.present_wiegand, facility, card, bits)
    return web.json_response({"door": name, "facility": facility, "card": card, "bits": bits})


async def _keys(request: web.Request) -> web.Response:
    name, door = _door(request)
    body = await _body(request)
    pressed = body.get("keys")
    if not isinstance(pressed, str) or not pressed or any(k not in "0123456789*#"
                                                           for k in pressed):
        raise _unprocessable("keys", "must be digits, '*' or '#', e.g. \"2580#\"")
    await _act(name, door.press_keys, pressed)
    return web.json_response({"door": name, "keys": pressed})


async def _tamper(request: web.Request) -> web.Response:
    name, door = _door(request)
    value = (await _body(request)).get("tampered")
    if not isinstance(value, bool):
        raise _unprocessable("tampered", "must be true or false")
    await _act(name, door.set_tamper, value)
    return web.json_response({"door": name, "tampered": value})


async def _power(request: web.Request) -> web.Response:
    name, door = _door(request)
    value = (await _body(request)).get("failed")
    if not isinstance(value, bool):
        raise _unprocessable("failed", "must be true or false")
    await _act(name, door.set_power_fail, value)
    return web.json_response({"door": name, "power_fail": value})


async def _contact(request: web.Request) -> web.Response:
    name, door = _door(request)
    body = await _body(request)
    is_open = body.get("open")
    if not isinstance(is_open, bool):
        raise _unprocessable("open", "must be true or false")
    await _act(name, door.set_door_contact, is_open)
    return web.json_response({"door": name, "open": is_open})


async def _exit(request: web.Request) -> web.Response:
    name, door = _door(request)
    await _act(name, door.press_exit)
    return web.json_response({"door": name, "exit_pressed": True})


def _door(request: web.Request) -> tuple[str, OsdpDoorSimulator]:
    name = request.match_info["door"]
    door = request.app[DOORS].get(name)
    if door is None:
        raise web.HTTPNotFound(
            text=_json_text({"error": f"no door named {name!r}", "door": name}),
            content_type="application/json",
        )
    return name, door


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise _unprocessable("body", "must be a JSON object") from None
    if not isinstance(body, dict):
        raise _unprocessable("body", "must be a JSON object")
    return body


async def _act(name: str, action: Callable[..., None], *args: Any) -> None:
    try:
        await asyncio.to_thread(action, *args)
    except RuntimeError as exc:  # the simulator is stopped or libosdp refused the event
        raise web.HTTPConflict(
            text=_json_text({"error": str(exc), "door": name}), content_type="application/json"
        ) from exc


def _unprocessable(field: str, reason: str) -> web.HTTPUnprocessableEntity:
    return web.HTTPUnprocessableEntity(
        text=_json_text({"error": f"{field} {reason}", "field": field}),
        content_type="application/json",
    )


def _json_text(data: dict[str, Any]) -> str:
    return json.dumps(data)
