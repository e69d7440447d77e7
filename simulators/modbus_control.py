"""HTTP control of running Modbus device simulators (added to the door control app).

Routes: GET /devices; POST /devices/{id}/elevator {floor}, /fault {code, active},
/pressure {value}, /zone {zone, state}, /reset, /silent {silent}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from simulators.control import _body, _json_text, _request, _unprocessable
from simulators.modbus_devices import ModbusDeviceSimulator

DEVICES = web.AppKey("modbus_devices", dict[str, ModbusDeviceSimulator])


def add_device_routes(app: web.Application, devices: dict[str, ModbusDeviceSimulator]) -> None:
    app[DEVICES] = devices
    app.router.add_get("/devices", _list)
    for action in ("elevator", "fault", "pressure", "zone", "reset", "silent"):
        app.router.add_post(f"/devices/{{device}}/{action}", _act)


async def _list(request: web.Request) -> web.Response:
    devices = request.app[DEVICES]
    return web.json_response({"devices": [d.state() for _, d in sorted(devices.items())]})


def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], hint: str) -> Any:
    value = body.get(name)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise _unprocessable(name, hint)
    return value


async def _act(request: web.Request) -> web.Response:
    name = request.match_info["device"]
    sim = request.app[DEVICES].get(name)
    if sim is None:
        raise web.HTTPNotFound(text=_json_text({"error": f"no device named {name!r}"}),
                               content_type="application/json")
    action = request.path.rsplit("/", 1)[1]
    body = await _body(request) if request.can_read_body else {}
    steps: dict[str, Callable[[], None]] = {
        "elevator": lambda: sim.move_elevator(_field(body, "floor", int, "must be an integer")),
        "fault": lambda: sim.fault(_field(body, "code", str, "must be a fault code"),
                                   bool(body.get("active", True))),
        "pressure": lambda: sim.set_pressure(_field(body, "value", (int, float), "must be a number")),
        "zone": lambda: sim.zone(_field(body, "zone", int, "must be a zone number"),
                                 _field(body, "state", str, "must be a zone state, e.g. fire")),
        "reset": sim.reset_panel,
        "silent": lambda: setattr(sim, "silent", _field(body, "silent", bool, "must be true or false")),
    }
    try:
        steps[action]()
    except ValueError as exc:
        raise web.HTTPUnprocessableEntity(text=_json_text({"error": str(exc), "device": name}),
                                          content_type="application/json") from exc
    return web.json_response(sim.state())


async def device_action(control_url: str, device: str, action: str,
                        body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Drive a simulated device through a running control server (the CLI's client)."""
    return await _request("POST", f"{control_url.rstrip('/')}/devices/{device}/{action}", body or {})


async def devices(control_url: str) -> dict[str, Any]:
    return await _request("GET", f"{control_url.rstrip('/')}/devices")
