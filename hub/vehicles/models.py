"""Tables of the vehicle domain (migrations 0027a, 0027b, 0032a, 0032b, 0032c)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.models import Base, UtcDateTime, utcnow


class Vehicle(Base):
    """A household's registered vehicle: plate (normalised), validity, allowed lanes."""

    __tablename__ = "vehicles"
    __table_args__ = (UniqueConstraint("site_id", "plate", name="uq_vehicles_site_plate"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True)
    plate: Mapped[str] = mapped_column(String(16))
    colour: Mapped[str | None] = mapped_column(String(16))
    valid_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lanes: Mapped[list[str] | None] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class VehiclePassRow(Base):
    """A visitor-car pass: the visitor's plate, a window and a use count (an entry is a use)."""

    __tablename__ = "vehicle_passes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True)
    plate: Mapped[str] = mapped_column(String(16), index=True)
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime] = mapped_column(UtcDateTime)
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class BlockedPlate(Base):
    __tablename__ = "blocked_plates"
    __table_args__ = (UniqueConstraint("site_id", "plate", name="uq_blocked_plates_site_plate"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    plate: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class VehicleStay(Base):
    """A vehicle inside: opened by the entry event that let it in, closed by its exit."""

    __tablename__ = "vehicle_stays"
    __table_args__ = (Index("ix_vehicle_stays_site_plate_open", "site_id", "plate", "left_at"),)
    entry_event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    plate: Mapped[str] = mapped_column(String(16))
    lane: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))  # resident, visitor_pass, temporary …
    household_id: Mapped[int | None] = mapped_column(Integer)
    pass_id: Mapped[int | None] = mapped_column(Integer)
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    exit_event_id: Mapped[str | None] = mapped_column(String(36))


class VehicleSiteSettings(Base):
    """A site's lane settings (wire.vehicles.VehicleSettings); none stored: the defaults."""

    __tablename__ = "vehicle_site_settings"
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    temporary_entry: Mapped[str] = mapped_column(String(8))
    passback: Mapped[str] = mapped_column(String(8))
    min_confidence: Mapped[float] = mapped_column(Float)
    over_spaces: Mapped[str] = mapped_column(String(10), default="temporary",
                                             server_default="temporary")  # 0032b
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Lane(Base):
    """A vehicle lane installed on an edge (migration 0032a): its direction, the plate
    camera that pushes to the edge (the edge holds only its secret's SHA-256) and what raises
    the barrier (wire.vehicles.Barrier as JSON). Lanes are named per site: a vehicle's
    allowed lanes and the events name them."""

    __tablename__ = "lanes"
    __table_args__ = (UniqueConstraint("site_id", "name", name="uq_lanes_site_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    edge_id: Mapped[int] = mapped_column(ForeignKey("edges.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), default="")
    direction: Mapped[str] = mapped_column(String(8))
    push_format: Mapped[str] = mapped_column(String(32), default="vzenith")
    camera_user: Mapped[str] = mapped_column(String(64), default="camera")
    camera_secret_sha256: Mapped[str] = mapped_column(String(64))
    barrier: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ParkingSpace(Base):
    """A parking space of a household (migration 0032b): owned or rented, maybe until a day.
    A household's valid spaces are how many of its cars may be inside at once."""

    __tablename__ = "parking_spaces"
    __table_args__ = (UniqueConstraint("site_id", "code", name="uq_parking_spaces_site_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))  # the number painted on it, e.g. B2-017
    kind: Mapped[str] = mapped_column(String(8))  # owned / rented
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class PlateCorrection(Base):
    """A guard's correction of a plate a lane misread (migration 0032c): the decision's event,
    what the camera read, the plate it really was, who said so and why. The stay the decision
    opened takes the corrected plate; the event itself stays as the edge sent it."""

    __tablename__ = "plate_corrections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    read_plate: Mapped[str] = mapped_column(String(16))
    plate: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500))
    corrected_by: Mapped[str] = mapped_column(String(128))
    corrected_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
