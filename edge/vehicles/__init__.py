"""Vehicle lanes at the edge: plate readings decided locally from the cached vehicle
permissions (resident, visitor pass, blocked, temporary), with anti-passback per plate."""

from edge.vehicles.cache import VehicleCache
from edge.vehicles.inside import InsideLog
from edge.vehicles.lane import LaneDecider, LaneDecision
from edge.vehicles.lanes import VehicleLanes
from edge.vehicles.plates import PlateIndex, PlateMatch, confusable_form
from edge.vehicles.server import LaneServer, camera_authorised

__all__ = [
    "InsideLog",
    "LaneDecider",
    "LaneDecision",
    "LaneServer",
    "PlateIndex",
    "PlateMatch",
    "VehicleCache",
    "VehicleLanes",
    "camera_authorised",
    "confusable_form",
]
