"""A unit's alarm panel: the installed device that guards it and how it arms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.models import Base, UtcDateTime


class SecurityPanel(Base):
    """An alarm panel (a device installed on an edge's line) guarding one unit. The arm state
    is the edge's, as it last reported it: the edge decides, the hub only shows it."""

    __tablename__ = "security_panels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), unique=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"),
                                           unique=True)
    edge: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))  # the edge's device id for it
    exit_delay_s: Mapped[float] = mapped_column(Float, default=30.0)
    entry_delay_s: Mapped[float] = mapped_column(Float, default=30.0)
    # [{"days": [1..7], "at": "HH:MM", "mode": "away"}] in the site's time
    schedule: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    camera: Mapped[str | None] = mapped_column(String(64))  # the corridor's camera
    mode: Mapped[str] = mapped_column(String(16), default="disarmed")  # away / stay / disarmed
    phase: Mapped[str] = mapped_column(String(16), default="disarmed")  # exit_delay, armed …
    mode_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    mode_by: Mapped[str | None] = mapped_column(String(16))
