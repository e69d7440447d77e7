"""The meter registry and the readings kept per meter."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.models import Base, UtcDateTime, utcnow


class Meter(Base):
    """A water or electricity meter of one unit, read through one edge as one of its devices.
    A meter replaced mid-month keeps its row (removed_at set); the unit's new meter is a new
    row, so the month's consumption adds the old meter's part and the new one's."""

    __tablename__ = "meters"
    __table_args__ = (UniqueConstraint("site_id", "kind", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # electricity / water / hot_water
    number: Mapped[str] = mapped_column(String(32))  # printed on the meter; DL/T 645 address
    edge: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))  # the edge's device id for it
    # a DL/T 645 meter's dlt645 line: the edge reads it from its configuration (water meters
    # are Modbus devices, installed with POST /devices)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"))
    installed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class MeterReading(Base):
    """One register reading as the edge took it. `status` is `ok`, or `reverse` for a reading
    below the meter's previous one: kept and shown, never used for consumption."""

    __tablename__ = "meter_readings"
    __table_args__ = (Index("ix_meter_readings_meter_ts", "meter_id", "ts"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)  # the telemetry event's
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id", ondelete="CASCADE"))
    ts: Mapped[datetime] = mapped_column(UtcDateTime)
    # thousandths of the register's measure (kWh, m³): exact on every database
    milli: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="ok")
    # the edge's daily reading just after 00:00: it closes the day (and the month) it follows
    billing: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
