"""Tables of the rules engine: its per-key state, alarms with their history and comments,
and notices. Nothing of a rule's state lives in a hub process: every worker sees these."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.models import Base, UtcDateTime, utcnow


class RuleState(Base):
    """One rule's state for one key (e.g. one door): its recent hits (`count`) or its timer
    (`persist`, `absence`: idle -> pending -> fired -> idle)."""

    __tablename__ = "rule_state"
    __table_args__ = (
        UniqueConstraint("rule", "site_id", "key"),
        Index("ix_rule_state_due", "state", "due_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(64))
    site_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(8), default="idle")
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_ts: Mapped[datetime | None] = mapped_column(UtcDateTime)
    hits: Mapped[list[str] | None] = mapped_column(JSON)  # event times (ISO), count rules
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the event that started it


class Alarm(Base):
    """What guards act on: active -> acknowledged -> cleared; one open alarm per dedup key."""

    __tablename__ = "alarms"
    __table_args__ = (
        Index("uq_alarms_open_key", "site_id", "dedup_key", unique=True,
              sqlite_where=Column("cleared_at").is_(None),
              postgresql_where=Column("cleared_at").is_(None)),
        Index("ix_alarms_raised", "raised_at", "id"),
        Index("ix_alarms_site_state", "site_id", "state"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    building_id: Mapped[int | None] = mapped_column(Integer)
    edge: Mapped[str | None] = mapped_column(String(64))
    device: Mapped[str | None] = mapped_column(String(64))
    device_id: Mapped[int | None] = mapped_column(Integer, index=True)
    door: Mapped[str | None] = mapped_column(String(64))
    door_id: Mapped[int | None] = mapped_column(Integer)
    snapshot_id: Mapped[str | None] = mapped_column(String(36))  # a camera snapshot (uuid)
    rule: Mapped[str | None] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    dedup_key: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(String(500))  # in English, as the API answered before
    # the message as a code of hub/texts with its parameters: rendered in the reader's language
    message_code: Mapped[str | None] = mapped_column(String(64))
    message_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="active")
    count: Mapped[int] = mapped_column(Integer, default=1)
    event_id: Mapped[str | None] = mapped_column(String(64))  # the first triggering event
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)  # event time
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)  # hub time
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cleared_by: Mapped[str | None] = mapped_column(String(64))


class AlarmHistory(Base):
    """Each step of an alarm's life, with who and when.

    On PostgreSQL partitioned by `ts` (hub.history, migration 0045a): the key is (id, ts), and
    no foreign key to `alarms` (maintaining one would lock `alarms` each time a month is
    attached or dropped, against the raises that lock `alarms` then this table: a deadlock);
    the steps are written beside their alarm and deleted with it (hub.rules.alarms)."""

    __tablename__ = "alarm_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(Integer, index=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    action: Mapped[Literal["raised", "acknowledged", "cleared"]] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))  # a username, or rule:<name>
    note: Mapped[str | None] = mapped_column(String(500))
    note_code: Mapped[str | None] = mapped_column(String(64))  # a hub/texts code, when the hub wrote it
    note_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AlarmComment(Base):
    __tablename__ = "alarm_comments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"), index=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)


class Notice(Base):
    """A notice to a site, a building or a unit, shown to its residents while valid."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_site_from", "site_id", "valid_from"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id", ondelete="CASCADE"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # a rule's notice: hub/texts codes `<text_code>.title` and `.body` with their parameters
    text_code: Mapped[str | None] = mapped_column(String(64))
    text_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(80), default="manual")  # manual / rule:<name>
    # shown on the LED boards of its scope (site or building) as well, until it expires
    on_boards: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


__all__ = ["Alarm", "AlarmComment", "AlarmHistory", "Notice", "RuleState"]
