"""Maintenance work orders: opened by fault rules, preventive schedules and residents'
repair requests; assigned by skill and workload; worked through open -> assigned ->
in_progress -> resolved -> closed with a history of every step."""

from hub.workorders.models import (
    EquipmentRecord,
    TechnicianSkill,
    WorkOrder,
    WorkOrderHistory,
    WorkOrderNote,
    WorkOrderOutbox,
    WorkOrderPart,
    WorkOrderPhoto,
)
from hub.workorders.service import (
    PRIORITY_DUE,
    Actor,
    IllegalTransition,
    assign,
    create_order,
    open_fault_order,
    transition,
)

__all__ = [
    "PRIORITY_DUE",
    "Actor",
    "EquipmentRecord",
    "IllegalTransition",
    "TechnicianSkill",
    "WorkOrder",
    "WorkOrderHistory",
    "WorkOrderNote",
    "WorkOrderOutbox",
    "WorkOrderPart",
    "WorkOrderPhoto",
    "assign",
    "create_order",
    "open_fault_order",
    "transition",
]
