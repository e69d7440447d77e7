"""Home security (居家安防): each unit's alarm armed and judged at the edge."""

from edge.homesec.panels import HomeSecurity
from edge.homesec.unit import ArmRefused, UnitAlarm

__all__ = ["ArmRefused", "HomeSecurity", "UnitAlarm"]
