"""The guard's console in one answer: the open alarms, the newest access events, the
buildings with their edges, door states and devices, the commands sent and the newest camera
alerts. A control-room screen asked these as eight requests on every load and reconnect; one
request (or the page itself, rendered with it) reads them all at once, each as its own list
endpoint answers it."""

from __future__ import annotations

import asyncio

from aiohttp import web
from pydantic import BaseModel

from hub.api.access.commands import CommandList, CommandQuery, list_commands
from hub.api.access.door_states import DoorStateList, DoorStateQuery, list_door_states
from hub.api.access.log import list_access_events
from hub.api.access.schemas import AccessEventPage, AccessEventQuery
from hub.api.alarms.routes import list_alarms
from hub.api.alarms.schemas import AlarmPage, AlarmQuery
from hub.api.cameras.routes import list_camera_alerts
from hub.api.cameras.schemas import CameraAlertPage, CameraAlertQuery
from hub.api.core.auth import OPERATOR_ROLES
from hub.api.core.endpoints import EndpointTable
from hub.api.core.schemas import SiteQuery
from hub.api.devices.routes import list_devices
from hub.api.devices.schemas import DeviceList, DeviceQuery
from hub.api.registry.buildings import list_buildings
from hub.api.registry.schemas import BuildingList, EdgeList
from hub.api.registry.sites import list_edges

routes = EndpointTable(tag="guard")
OPEN_ALARMS, ACCESS_ROWS, COMMANDS, CAMERA_ALERTS = 100, 50, 8, 100


class GuardPanel(BaseModel):
    """Each part as its own endpoint answers it (same names, same shapes)."""

    alarms: AlarmPage
    access_events: AccessEventPage
    buildings: BuildingList
    edges: EdgeList
    door_states: DoorStateList
    devices: DeviceList
    commands: CommandList
    camera_alerts: CameraAlertPage


async def _access(request: web.Request) -> AccessEventPage:
    page = await list_access_events(request, AccessEventQuery(limit=ACCESS_ROWS))
    assert isinstance(page, AccessEventPage)  # json, not the CSV export
    return page


@routes.get("/guard-panel", response=GuardPanel, roles=OPERATOR_ROLES)
async def guard_panel(request: web.Request) -> GuardPanel:
    """The guard console's data in one answer: open alarms (100), access events (50), buildings,
    edges, door states, devices, commands (8), camera alerts (100), each read concurrently."""
    parts = await asyncio.gather(
        list_alarms(request, AlarmQuery(open=True, limit=OPEN_ALARMS)),
        _access(request),
        list_buildings(request, SiteQuery()),
        list_edges(request, SiteQuery()),
        list_door_states(request, DoorStateQuery()),
        list_devices(request, DeviceQuery()),
        list_commands(request, CommandQuery(limit=COMMANDS)),
        list_camera_alerts(request, CameraAlertQuery(limit=CAMERA_ALERTS)),
    )
    names = list(GuardPanel.model_fields)
    return GuardPanel.model_validate(dict(zip(names, parts, strict=True)))


__all__ = ["GuardPanel", "guard_panel", "routes"]
