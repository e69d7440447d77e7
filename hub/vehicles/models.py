"""Tables of the vehicle domain (migration 0027a)."""

from __future__ import annotations

from datetime import datetime

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
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
