"""Tables of guard patrol: checkpoints, routes and their stops, guards' phone keys, rounds,
readings (the phone's reading id is the key: a reading sent twice is stored once) and the
exceptions a round raised (the key that makes the sweep's alarms happen once)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.models import Base, UtcDateTime, utcnow


class Checkpoint(Base):
    """A point a guard must reach: a display showing a rotating code (`kind` "display",
    `secret` its key) or a door reader in checkpoint mode (`kind` "door")."""

    __tablename__ = "patrol_checkpoints"
    __table_args__ = (UniqueConstraint("site_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    code: Mapped[str] = mapped_column(String(32))  # CP3
    name: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # display / door
    secret: Mapped[str | None] = mapped_column(String(64))  # hex, display kind
    door_id: Mapped[int | None] = mapped_column(ForeignKey("doors.id", ondelete="SET NULL"))


class Route(Base):
    """Ordered checkpoints; run on demand, or every `every_min` minutes between the site's
    local `from_hour` and `to_hour` (22 → 6 wraps midnight)."""

    __tablename__ = "patrol_routes"
    __table_args__ = (UniqueConstraint("site_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    code: Mapped[str] = mapped_column(String(32))  # night-a
    name: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str | None] = mapped_column(String(200))
    every_min: Mapped[int | None] = mapped_column(Integer)
    from_hour: Mapped[int | None] = mapped_column(Integer)
    to_hour: Mapped[int | None] = mapped_column(Integer)


class RouteStop(Base):
    """The `position`-th checkpoint of a route, due `allowance_s` after the previous one."""

    __tablename__ = "patrol_route_stops"
    route_id: Mapped[int] = mapped_column(ForeignKey("patrol_routes.id", ondelete="CASCADE"),
                                          primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("patrol_checkpoints.id"))
    allowance_s: Mapped[int] = mapped_column(Integer)


class GuardKey(Base):
    """A guard's phone key: raw Ed25519 public key, base64; the phone signs its readings."""

    __tablename__ = "patrol_guard_keys"
    __table_args__ = (UniqueConstraint("public_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    public_key: Mapped[str] = mapped_column(String(44))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Round(Base):
    """One walk of a route. A scheduled round is keyed by (route, scheduled_for), so two hub
    workers starting it make one."""

    __tablename__ = "patrol_rounds"
    __table_args__ = (UniqueConstraint("route_id", "scheduled_for"),
                      Index("ix_patrol_rounds_state_deadline", "state", "deadline"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("patrol_routes.id"))
    guard: Mapped[str | None] = mapped_column(String(64))  # username; None: not yet taken
    scheduled_for: Mapped[datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deadline: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(16))  # open / completed / incomplete
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Reading(Base):
    """A checkpoint recorded in a round; `id` is chosen by the phone (its idempotency key)."""

    __tablename__ = "patrol_readings"
    __table_args__ = (UniqueConstraint("round_id", "checkpoint_id"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("patrol_rounds.id", ondelete="CASCADE"),
                                          index=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("patrol_checkpoints.id"))
    position: Mapped[int] = mapped_column(Integer)
    guard: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UtcDateTime)  # when read, on the phone
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    method: Mapped[str] = mapped_column(String(16))  # phone / card
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    out_of_order: Mapped[bool] = mapped_column(Boolean, default=False)


class RoundException(Base):
    """What went wrong in a round (missed / stalled at a position): the primary key makes the
    sweep's alarm happen once whichever hub worker finds it."""

    __tablename__ = "patrol_exceptions"
    round_id: Mapped[int] = mapped_column(ForeignKey("patrol_rounds.id", ondelete="CASCADE"),
                                          primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # missed / stalled
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    alarm_id: Mapped[int | None] = mapped_column(Integer)


class GuardCard(Base):
    """A guard's card: presented at a door reader in checkpoint mode, it records the
    checkpoint in the guard's open round (hub.patrol.cards, at ingest)."""

    __tablename__ = "patrol_guard_cards"
    __table_args__ = (UniqueConstraint("site_id", "card_number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    card_number: Mapped[str] = mapped_column(String(32))
