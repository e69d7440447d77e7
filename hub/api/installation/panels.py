"""Unit alarm panels: an installed alarm-panel device tied to the unit it guards, with its
exit and entry delays and arm schedule (carried to the edge in the device's configuration)."""

from __future__ import annotations

from aiohttp import web

from hub.api.core.crud import Out
from hub.api.core.endpoints import EndpointTable
from hub.api.installation.common import ITEM, apply, installing, remove
from hub.homesec.panels import PanelChange, PanelSpec, create_panel, delete_panel, update_panel
from wire.homesec import ArmSchedule

routes = EndpointTable(tag="installation")


class PanelOut(Out):
    id: int
    site_id: str
    unit_id: int
    device_id: int
    edge: str
    device: str
    exit_delay_s: float
    entry_delay_s: float
    schedule: list[ArmSchedule] | None
    camera: str | None


@routes.post("/security-panels", body=PanelSpec, response=PanelOut, status=201)
async def add_panel(request: web.Request, body: PanelSpec) -> PanelOut:
    """Tie an installed alarm panel (device) to the unit it guards, with its delays and
    schedule; its edge's configuration carries them (the edge arms and judges)."""
    async with installing(request) as inst:
        return PanelOut.model_validate(await create_panel(inst, body))


@routes.patch("/security-panels" + ITEM, body=PanelChange, response=PanelOut)
async def change_panel(request: web.Request, body: PanelChange) -> PanelOut:
    """Change a panel's delays, schedule or corridor camera."""
    return await apply(request, "security_panel", update_panel, body, PanelOut)


@routes.delete("/security-panels" + ITEM)
async def remove_panel(request: web.Request) -> None:
    """Untie a panel from its unit (its edge stops arming it; the device stays installed)."""
    await remove(request, "security_panel", delete_panel)
