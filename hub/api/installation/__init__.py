"""The installation's API (issue 15): edges, lines, doors with readers, devices, cameras,
lifts and vehicle lanes (their audit trail: hub.api.registry.audit). Each module holds a
resource's routes and answer models; the bodies and every change are the domain's own
(hub.installation), shared with the demo seed."""

from hub.api.core.endpoints import Endpoint
from hub.api.installation import (
    cameras,
    devices,
    doors,
    edges,
    lanes,
    lifts,
    lines,
    panels,
)


def installation_endpoints() -> list[Endpoint]:
    return [*edges.routes, *lines.routes, *doors.routes, *devices.routes, *cameras.routes,
            *lifts.routes, *lanes.routes, *panels.routes]


__all__ = ["installation_endpoints"]
