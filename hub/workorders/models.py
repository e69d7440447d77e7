"""Work orders, their history, notes, parts and photos; technicians' skills; the equipment
ledger; and the outbox of notifications still to send (live push, webhook)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.models import Base, UtcDateTime


class WorkOrder(Base):
    """A maintenance job: a device fault, a preventive maintenance visit or a repair request.

    `open_key` holds "<device id>:<fault code>" while a fault order is not resolved or closed
    and NULL otherwise; its unique constraint lets the database, not the process, refuse a
    second open order for the same fault (two hub workers may race). `(device_id, pm_due_on)`
    is unique for the same reason: one preventive order per device and maintenance cycle.
    """

    __tablename__ = "work_orders"
    __table_args__ = (
        UniqueConstraint("open_key", name="uq_work_orders_open_key"),
        UniqueConstraint("device_id", "pm_due_on", name="uq_work_orders_pm_cycle"),
        Index("ix_work_orders_site_created", "site_id", "created_at"),
        Index("ix_work_orders_assignee_state", "assignee_id", "state"),
        Index("ix_work_orders_state_due", "state", "due_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    # fault (a device's fault, by a rule) / preventive / repair (a resident's) / manual
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))  # who opened it: rule, pm, resident, manager
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL"), index=True)
    fault_code: Mapped[str | None] = mapped_column(String(32))
    open_key: Mapped[str | None] = mapped_column(String(100))
    pm_due_on: Mapped[date | None] = mapped_column(Date)
    # a preventive order's checklist: [{code, cycle, text_en, text_zh, done, done_by, done_at}]
    checklist: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    title: Mapped[str] = mapped_column(String(200))
    # a title the hub wrote, as a hub/texts code with parameters (read in the reader's language)
    title_code: Mapped[str | None] = mapped_column(String(64))
    title_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(Text, default="")
    description_code: Mapped[str | None] = mapped_column(String(64))  # the hub's own, as a code
    description_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    skill: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(8))  # urgent / high / normal / low
    # open -> assigned -> in_progress -> resolved -> closed
    state: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(String(500))
    rated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WorkOrderHistory(Base):
    """Every step of an order: who (a user, or the system), when, from which state to which."""

    __tablename__ = "work_order_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(64))  # a username, or "system:<source>"
    action: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[int | None] = mapped_column(Integer)  # after the step
    note: Mapped[str | None] = mapped_column(Text)
    note_code: Mapped[str | None] = mapped_column(String(64))  # a note the hub wrote, as a code
    note_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class WorkOrderNote(Base):
    __tablename__ = "work_order_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)


class WorkOrderPart(Base):
    """A part used on the job."""

    __tablename__ = "work_order_parts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)


class WorkOrderPhoto(Base):
    """A JPEG or PNG attached to an order, kept in the database so every hub worker serves it."""

    __tablename__ = "work_order_photos"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("work_orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class TechnicianSkill(Base):
    __tablename__ = "technician_skills"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    skill: Mapped[str] = mapped_column(String(64), primary_key=True)


class EquipmentRecord(Base):
    """The equipment ledger's line for a device: when installed, how often maintained, when
    next due. A preventive order opens `lead_days` (or the hub's default) before the due date."""

    __tablename__ = "equipment_ledger"
    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    install_date: Mapped[date | None] = mapped_column(Date)
    cycle_days: Mapped[int | None] = mapped_column(Integer)
    last_maintained_on: Mapped[date | None] = mapped_column(Date)
    next_due_on: Mapped[date | None] = mapped_column(Date, index=True)
    lead_days: Mapped[int | None] = mapped_column(Integer)
    skill: Mapped[str | None] = mapped_column(String(64))  # of its preventive orders
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MaintenanceCycle(Base):
    """One of a device's maintenance cycles (a lift's half-monthly, quarterly … maintenance):
    how often, when next due and last done; `name` is a cycle of hub/workorders/cycles.yaml."""

    __tablename__ = "maintenance_cycles"
    __table_args__ = (UniqueConstraint("device_id", "name", name="uq_maintenance_cycles_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    days: Mapped[int] = mapped_column(Integer)
    last_done_on: Mapped[date | None] = mapped_column(Date)
    next_due_on: Mapped[date] = mapped_column(Date, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WorkOrderOutbox(Base):
    """A notification written in the order's own transaction and sent after it commits by
    whichever hub worker leases it first: so a crash or a dead webhook never loses one."""

    __tablename__ = "work_order_outbox"
    __table_args__ = (Index("ix_work_order_outbox_pending", "done", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"))
    site_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))  # created / assigned / escalated / ...
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    live_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    webhook_attempts: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
