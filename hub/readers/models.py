"""Tables of the readers' domain: PINs, card formats, readers' own keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.models import Base, UtcDateTime, utcnow


class ResidentPinRow(Base):
    """A resident's keypad PIN (and duress PIN), hashed: hub/credentials/pins.py says how."""

    __tablename__ = "resident_pins"
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    pin_hash: Mapped[str] = mapped_column(String(128))
    duress_hash: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64))


class CardFormatRow(Base):
    """How a site's raw Wiegand reads decode and whether facility codes are checked."""

    __tablename__ = "card_formats"
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"),
                                         primary_key=True)
    wiegand: Mapped[str] = mapped_column(String(16), default="26,34")  # bit lengths, sorted
    check_facility: Mapped[bool] = mapped_column(Boolean, default=False)
    facility_codes: Mapped[str] = mapped_column(String(400), default="")  # comma-separated


class ReaderKeyRow(Base):
    """The key a door's reader took at its edge, as the edge sealed it to the hub's key."""

    __tablename__ = "reader_keys"
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"),
                                         primary_key=True)
    edge: Mapped[str] = mapped_column(String(64), primary_key=True)
    door: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[int] = mapped_column(Integer)
    sealed_key: Mapped[str] = mapped_column(String(400))
    fingerprint: Mapped[str] = mapped_column(String(16))
    keyed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    event_id: Mapped[str] = mapped_column(String(36))
