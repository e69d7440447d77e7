"""The installation kept by the hub (issue 15): edges, lines, doors with their readers,
Modbus devices, cameras, lifts and vehicle lanes. The API and the demo seed change it through
these functions alone; each change is audited and names the edges whose configuration it alters."""

from hub.installation.cameras import create_camera, delete_camera, update_camera
from hub.installation.devices import create_device, delete_device, update_device
from hub.installation.doors import create_door, delete_door, update_door
from hub.installation.edges import create_edge, delete_edge, update_edge
from hub.installation.installer import SYSTEM, Actor, Installer
from hub.installation.lanes import create_lane, delete_lane, update_lane
from hub.installation.lifts import create_lift, delete_lift, update_lift
from hub.installation.lines import create_line, delete_line, update_line

__all__ = [
    "SYSTEM", "Actor", "Installer", "create_camera", "create_device", "create_door",
    "create_edge", "create_lane", "create_lift", "create_line", "delete_camera",
    "delete_device", "delete_door", "delete_edge", "delete_lane", "delete_lift", "delete_line",
    "update_camera", "update_device", "update_door", "update_edge", "update_lane",
    "update_lift", "update_line",
]
