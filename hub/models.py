"""The hub's registry and event store (SQLAlchemy 2). Schema changes go through Alembic."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    event,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from wire.devices import Severity
from wire.events import CredentialType
from wire.permissions import HolidayMode


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both SQLite (which stores naive) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


# Event ids: native uuid on PostgreSQL (16 bytes, not 37), the text as before on SQLite; Python
# sees the same lower-case string either way. Payloads: jsonb on PostgreSQL.
EventIdType = String(36).with_variant(Uuid(as_uuid=False), "postgresql")
Payload = JSON().with_variant(JSONB(), "postgresql")

DEFAULT_COMPANY = "default"  # where the sites of a hub from before companies went (0041a)


class Company(Base):
    """A property company (the tenant): its sites, its staff; nothing of it shows to another."""

    __tablename__ = "companies"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


# Every database has the default company, as the migration leaves it (create_all too: tests).
event.listen(Company.__table__, "after_create", DDL(  # type: ignore[no-untyped-call]
    "INSERT INTO companies (id, name, created_at) "
    f"VALUES ('{DEFAULT_COMPANY}', 'Default company', CURRENT_TIMESTAMP)"))


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    company_id: Mapped[str] = mapped_column(ForeignKey("companies.id"), index=True,
                                            default=DEFAULT_COMPANY,
                                            server_default=DEFAULT_COMPANY)


class Building(Base):
    __tablename__ = "buildings"
    __table_args__ = (UniqueConstraint("site_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("building_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id"), index=True)
    number: Mapped[str] = mapped_column(String(32))
    floor: Mapped[int | None] = mapped_column(Integer)
    # issue 3: floor area in m² and occupancy (vacant / occupied / rented)
    area: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="vacant", server_default="vacant")


resident_groups = Table(
    "resident_groups",
    Base.metadata,
    Column("resident_id", ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("access_groups.id", ondelete="CASCADE"), primary_key=True),
)

group_doors = Table(
    "access_group_doors",
    Base.metadata,
    Column("group_id", ForeignKey("access_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("door_id", ForeignKey("doors.id", ondelete="CASCADE"), primary_key=True),
)


class Resident(Base):
    __tablename__ = "residents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    groups: Mapped[list[AccessGroup]] = relationship(secondary=resident_groups)
    cards: Mapped[list[CardCredential]] = relationship(back_populates="resident")
    # issue 3: the household (of the unit) and who the resident is in it
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    # owner / tenant / family_member
    type: Mapped[str | None] = mapped_column(String(16))
    # stored in full; every API answer but the admin's shows it masked
    id_number: Mapped[str | None] = mapped_column(String(32))


class CardCredential(Base):
    __tablename__ = "card_credentials"
    __table_args__ = (UniqueConstraint("site_id", "card_number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    card_number: Mapped[str] = mapped_column(String(64))
    facility_code: Mapped[int | None] = mapped_column(Integer)
    # active / revoked / lost / suspended
    status: Mapped[str] = mapped_column(String(16), default="active")
    valid_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    resident: Mapped[Resident] = relationship(back_populates="cards")


class Schedule(Base):
    """A weekly schedule: `windows` is a list of wire.TimeWindow dicts, in site local time."""

    __tablename__ = "schedules"
    __table_args__ = (UniqueConstraint("site_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    windows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class AccessGroup(Base):
    __tablename__ = "access_groups"
    __table_args__ = (UniqueConstraint("site_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id"))
    schedule: Mapped[Schedule | None] = relationship(foreign_keys=[schedule_id])
    doors: Mapped[list[Door]] = relationship(secondary=group_doors)
    # on a site holiday: normal (weekly schedule as usual) / closed / schedule (the one below)
    holiday_mode: Mapped[HolidayMode] = mapped_column(String(16), default="normal",
                                                      server_default="normal")
    holiday_schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id"))
    # building floors (1 ground, -1 B1) its car readers enable, beside members' own unit floors
    floors: Mapped[list[int] | None] = mapped_column(JSON)


class Edge(Base):
    __tablename__ = "edges"
    __table_args__ = (UniqueConstraint("site_id", "name"),
                      Index("ix_edges_status_silent_at", "status", "silent_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    # what the edge last reported on `state`
    status: Mapped[str] = mapped_column(String(16), default="unknown")
    agent_version: Mapped[str | None] = mapped_column(String(64))
    perm_version_held: Mapped[int | None] = mapped_column(Integer)
    last_seen: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # what the edge last reported of its outbox: messages waiting for `stored`, last seq written
    outbox_waiting: Mapped[int | None] = mapped_column(BigInteger)
    outbox_last_seq: Mapped[int | None] = mapped_column(BigInteger)
    # downlink messages it refused since its agent started (unsigned, forged, replayed ...)
    downlink_refused: Mapped[int | None] = mapped_column(BigInteger)
    # liveness (hub.liveness): its MQTT keepalive, and when the hub counts it offline unless
    # it has heard from it again (wire.state.silent_after_s)
    keepalive_s: Mapped[int | None] = mapped_column(Integer)
    silent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # its configuration (hub.edgeconfig): the version it runs, and the last one it refused
    # (newer than the one it runs) with why
    config_version_held: Mapped[int | None] = mapped_column(Integer)
    config_refused_version: Mapped[int | None] = mapped_column(Integer)
    config_refused: Mapped[str | None] = mapped_column(Text)
    # issue 15: what an installer calls it (the name is its identity on the broker)
    label: Mapped[str] = mapped_column(String(200), default="", server_default="")


class Line(Base):
    """A serial bus (RS-485) on an edge: one owner per port, OSDP readers or Modbus units."""

    __tablename__ = "lines"
    __table_args__ = (UniqueConstraint("edge_id", "name"), UniqueConstraint("edge_id", "port"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    edge_id: Mapped[int] = mapped_column(ForeignKey("edges.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), default="")
    port: Mapped[str] = mapped_column(String(200))
    baudrate: Mapped[int] = mapped_column(Integer)
    parity: Mapped[Literal["N", "E", "O"]] = mapped_column(String(1))
    stopbits: Mapped[int] = mapped_column(Integer)
    protocol: Mapped[Literal["osdp", "modbus", "dlt645", "cjt188"]] = mapped_column(String(8))


class Lift(Base):
    """A lift (梯控): its Modbus controller, car readers (doors with `lift_id`), floor map."""

    __tablename__ = "lifts"
    __table_args__ = (UniqueConstraint("site_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    edge_id: Mapped[int] = mapped_column(ForeignKey("edges.id"), index=True)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    name: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), default="")
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), unique=True)
    floor_enable_s: Mapped[float] = mapped_column(Float, default=10.0)
    floors: Mapped[list[LiftFloor]] = relationship(
        order_by="LiftFloor.floor", cascade="all, delete-orphan", lazy="selectin")


class LiftFloor(Base):
    """One stop of a lift: the controller's floor number and the label people read (B1, 1 …)."""

    __tablename__ = "lift_floors"
    __table_args__ = (UniqueConstraint("lift_id", "label"),)
    lift_id: Mapped[int] = mapped_column(ForeignKey("lifts.id", ondelete="CASCADE"),
                                         primary_key=True)
    floor: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(16))


class UplinkRange(Base):
    """Sequence numbers of one edge a hub worker committed (inclusive), insert-only so that
    workers never wait on each other; folded into EdgeUplink (hub.stored)."""

    __tablename__ = "uplink_ranges"
    __table_args__ = (Index("ix_uplink_ranges_edge", "site_id", "edge", "first_seq"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"),
                                    primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(String(64))
    edge: Mapped[str] = mapped_column(String(64))
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class EdgeUplink(Base):
    """Per edge (by site and name, known to the registry or not): every sequence number up to
    `stored_through` is committed; the ranges left in uplink_ranges lie above it (gaps between)."""

    __tablename__ = "edge_uplink"
    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    edge: Mapped[str] = mapped_column(String(64), primary_key=True)
    stored_through: Mapped[int] = mapped_column(BigInteger, server_default="0")
    folded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # the edge's time of the event at stored_through (at most the hub's, when folded): a lower
    # bound for the ts of those above it, so reading them prunes event_log (migration 0045b)
    through_ts: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Door(Base):
    __tablename__ = "doors"
    # door ids are names such as "B1-main", unique within a site
    __table_args__ = (UniqueConstraint("site_id", "name"),
                      UniqueConstraint("line_id", "reader_address"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    edge_id: Mapped[int] = mapped_column(ForeignKey("edges.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), default="")
    mode: Mapped[str] = mapped_column(String(24), default="normal")
    # mode unlocked_on_schedule: the edge keeps the lock released during this schedule
    unlock_schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id"))
    # issue 15: the reader (an OSDP address on a line of the door's edge) and the door's wiring
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"), index=True)
    reader_address: Mapped[int | None] = mapped_column(Integer)
    # the reader's secure-channel key (32 hex digits), kept for the edge; None: not
    # commissioned yet (the reader still speaks the install key)
    reader_key: Mapped[str | None] = mapped_column(String(32))
    relay_output: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    contact_input: Mapped[int | None] = mapped_column(Integer)
    rex_input: Mapped[int | None] = mapped_column(Integer)
    fail_safe_egress: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    unlock_s: Mapped[float] = mapped_column(Float, default=5.0, server_default="5")
    held_open_s: Mapped[float] = mapped_column(Float, default=30.0, server_default="30")
    # a car reader: the lift whose floors a grant here enables
    lift_id: Mapped[int | None] = mapped_column(ForeignKey("lifts.id"), index=True)
    edge_row: Mapped[Edge] = relationship(lazy="joined", viewonly=True)

    @property
    def edge_name(self) -> str:
        return self.edge_row.name

    @property
    def reader_commissioned(self) -> bool:
        """The reader has a key of its own (else it still speaks the install key)."""
        return self.reader_key is not None
    # card + PIN: a granted card opens only after its holder's PIN (at the reader's keypad)
    pin_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class PermissionVersion(Base):
    """The last snapshot published to an edge: versions only grow, across hub workers."""

    __tablename__ = "permission_versions"
    edge_id: Mapped[int] = mapped_column(ForeignKey("edges.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class EdgeConfigVersion(Base):
    """The last configuration published to an edge: versions only grow, across hub workers."""

    __tablename__ = "edge_config_versions"
    edge_id: Mapped[int] = mapped_column(ForeignKey("edges.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class EventLog(Base):
    """Every event received, stored once by its id whatever the broker redelivers.

    On PostgreSQL partitioned by `ts` (hub.history): the key is (id, ts), as a partitioned
    table's must hold its partition key; a redelivery carries the same ts, and an id reused
    with another ts is refused by the ingest (hub.ingest)."""

    __tablename__ = "event_log"
    __table_args__ = (Index("ix_event_log_edge_seq", "site_id", "edge", "seq"),)
    id: Mapped[str] = mapped_column(EventIdType, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    site_id: Mapped[str] = mapped_column(String(64))
    edge: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    ts: Mapped[datetime] = mapped_column(UtcDateTime, index=True, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(Payload)


class EventIdOutlier(Base):
    """An event stored with a ts more than a day from the time its UUIDv7 id carries (or an id
    that is no UUIDv7). The ingest looks for a reused id only in the days around the id's time
    (hub.ingest): the ids of the rare events stored elsewhere in time are kept here, so that
    look still finds them. Used on PostgreSQL, where the event log's key is (id, ts)."""

    __tablename__ = "event_id_outliers"
    id: Mapped[str] = mapped_column(EventIdType, primary_key=True)
    ts: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class AccessEvent(Base):
    """Access decisions, denormalised for the access log's filters and keyset paging.

    Partitioned by `ts` on PostgreSQL like the event log, and kept longer than it (its own
    retention), so it holds no foreign key to it (migration 0040a)."""

    __tablename__ = "access_events"
    __table_args__ = (
        Index("ix_access_events_ts_id", "ts", "id"),
        Index("ix_access_events_door_ts", "door", "ts"),
        Index("ix_access_events_resident_ts", "resident_id", "ts"),
        # migration 0011: the access log's filters at 10 million events
        Index("ix_access_events_site_ts_id", "site_id", "ts", "id"),
        Index("ix_access_events_site_edge_ts_id", "site_id", "edge", "ts", "id"),
        Index("ix_access_events_credential_ts", "credential", "ts"),
        # migration 0012: a site's door, a building's (edge's) entries by result
        Index("ix_access_events_site_door_ts_id", "site_id", "door", "ts", "id"),
        Index("ix_access_events_site_edge_result_ts_id", "site_id", "edge", "result", "ts", "id"),
        # migration 0017: the rare flagged events, newest first, without walking the rest
        Index("ix_access_events_malformed_ts_id", "ts", "id",
              sqlite_where=Column("malformed").isnot(None),
              postgresql_where=Column("malformed").isnot(None)),
    )
    id: Mapped[str] = mapped_column(EventIdType, primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    edge: Mapped[str] = mapped_column(String(64))
    door: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    credential_type: Mapped[CredentialType] = mapped_column(String(16))
    credential: Mapped[str] = mapped_column(String(128))
    resident_id: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[Literal["granted", "denied"]] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    decision_us: Mapped[int] = mapped_column(Integer)
    # the edge's note when the credential could not be carried as read (cut, escaped)
    malformed: Mapped[str | None] = mapped_column(String(500))


class DeadLetter(Base):
    """A message the hub could not accept, kept with the reason; nothing else changes."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_site_edge_received", "site_id", "edge", "received_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    topic: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(Text)
    # the edge whose prefix the topic names, when it names one (counted in the edge's status)
    site_id: Mapped[str | None] = mapped_column(String(64))
    edge: Mapped[str | None] = mapped_column(String(64))


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # admin (the platform's) / company_admin / manager / guard / technician / resident
    role: Mapped[str] = mapped_column(String(16))
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # issue 3: a resident user's scope, and disabling without deleting (history keeps the name)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # a company admin's company (staff and residents belong to their site's)
    company_id: Mapped[str | None] = mapped_column(ForeignKey("companies.id"))


class ApiToken(Base):
    """Bearer tokens are stored as SHA-256 hashes; the plain token is shown once at login."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    user: Mapped[User] = relationship()


class EdgeCommandRow(Base):
    """A command sent to an edge (remote unlock, lockdown …): who, why, and the edge's answer."""

    __tablename__ = "edge_commands"
    __table_args__ = (Index("ix_edge_commands_issued_at", "issued_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64))
    edge: Mapped[str] = mapped_column(String(64))
    door: Mapped[str | None] = mapped_column(String(64))
    command: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(500))
    issued_by: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # sent → ok / failed / rejected (the edge's answer) or unsent (the broker refused it)
    status: Mapped[str] = mapped_column(String(16), default="sent")
    answer: Mapped[str | None] = mapped_column(String(500))
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Holiday(Base):
    """A date of the site's holiday calendar (site local); groups say how they treat it."""

    __tablename__ = "holidays"
    __table_args__ = (UniqueConstraint("site_id", "day"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(200), default="")


class AntiPassbackPair(Base):
    """An entry/exit door pair on one edge; the edge tracks each card's last direction."""

    __tablename__ = "anti_passback_pairs"
    __table_args__ = (UniqueConstraint("site_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    entry_door_id: Mapped[int] = mapped_column(ForeignKey("doors.id", ondelete="CASCADE"))
    exit_door_id: Mapped[int] = mapped_column(ForeignKey("doors.id", ondelete="CASCADE"))
    mode: Mapped[Literal["hard", "soft"]] = mapped_column(String(8), default="hard")
    reset_s: Mapped[int | None] = mapped_column(Integer)


class Device(Base):
    """A building device as its edge reports it; registered by its first event."""

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("site_id", "edge", "name"),
                      UniqueConstraint("line_id", "unit_id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    edge: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))  # the events' `device`
    device_type: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(64))
    # what the edge last said: online / offline / unknown (never heard either)
    status: Mapped[str] = mapped_column(String(16), default="unknown")
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime | None] = mapped_column(UtcDateTime)
    counters: Mapped[dict[str, int] | None] = mapped_column(JSON)
    counters_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # latest reading per name: {"floor": {"value": 3, "unit": null, "ts": "..."}}
    telemetry: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # issue 15: installed from the hub (edge_id set): how its edge reaches it
    edge_id: Mapped[int | None] = mapped_column(ForeignKey("edges.id"), index=True)
    label: Mapped[str] = mapped_column(String(200), default="", server_default="")
    transport: Mapped[Literal["rtu", "tcp"] | None] = mapped_column(String(8))
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(200))
    tcp_port: Mapped[int | None] = mapped_column(Integer)
    poll_interval_s: Mapped[float | None] = mapped_column(Float)


class DeviceFault(Base):
    """A fault raised by a device; at most one open row (cleared_at null) per device and code."""

    __tablename__ = "device_faults"
    __table_args__ = (
        Index("uq_device_faults_open", "device_id", "code", unique=True,
              sqlite_where=Column("cleared_at").is_(None),
              postgresql_where=Column("cleared_at").is_(None)),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    text: Mapped[str | None] = mapped_column(String(500))
    text_zh: Mapped[str | None] = mapped_column(String(500))
    severity: Mapped[Severity | None] = mapped_column(String(16))
    skill: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    raise_count: Mapped[int] = mapped_column(Integer, default=1)
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class TelemetryRow(Base):
    """Raw telemetry (the SQL sink); rolled into `telemetry_hourly` when old."""

    __tablename__ = "telemetry"
    __table_args__ = (Index("ix_telemetry_series_ts", "site_id", "edge", "device", "name", "ts"),
                      Index("ix_telemetry_ts", "ts"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64))
    edge: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UtcDateTime)
    value_num: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(String(16))


class TelemetryHourly(Base):
    """Per-hour min/max/avg of numeric readings older than the raw retention."""

    __tablename__ = "telemetry_hourly"
    site_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    edge: Mapped[str] = mapped_column(String(64), primary_key=True)
    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    min: Mapped[float | None] = mapped_column(Float)
    max: Mapped[float | None] = mapped_column(Float)
    avg: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(16))


class Household(Base):
    """The people living in one unit; resident users are scoped to their household."""

    __tablename__ = "households"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


# --- signed credentials (issue 3: QR, Bluetooth, visitor passes) ---------------------------


class ResidentAccount(Base):
    """Links a login (role `resident`) to the resident it acts as, for the `/me` endpoints."""

    __tablename__ = "resident_accounts"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )


class PhoneKey(Base):
    """A resident's phone key for Bluetooth: a raw Ed25519 public key, base64 (44 chars)."""

    __tablename__ = "phone_keys"
    __table_args__ = (UniqueConstraint("public_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    public_key: Mapped[str] = mapped_column(String(44))
    label: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[Literal["active", "revoked"]] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


visitor_pass_doors = Table(
    "visitor_pass_doors",
    Base.metadata,
    Column("pass_id", ForeignKey("visitor_passes.id", ondelete="CASCADE"), primary_key=True),
    Column("door_id", ForeignKey("doors.id", ondelete="CASCADE"), primary_key=True),
)


class VisitorPass(Base):
    """A visitor's pass: doors, a validity window and a number of uses, counted at the edge."""

    __tablename__ = "visitor_passes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    visitor_name: Mapped[str] = mapped_column(String(200))
    visitor_phone: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime] = mapped_column(UtcDateTime)
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)  # recorded from access events
    status: Mapped[Literal["active", "revoked"]] = mapped_column(String(16), default="active")
    share_code: Mapped[str] = mapped_column(String(64), unique=True)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    doors: Mapped[list[Door]] = relationship(secondary=visitor_pass_doors)
    # the floors a car reader among `doors` enables: the host unit's, unless the issuer chose
    floors: Mapped[list[int] | None] = mapped_column(JSON)


class VisitorPassUse(Base):
    """One granted use of a pass, by the access event that reported it (so counted once)."""

    __tablename__ = "visitor_pass_uses"
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    pass_id: Mapped[int] = mapped_column(
        ForeignKey("visitor_passes.id", ondelete="CASCADE"), index=True
    )
    door: Mapped[str] = mapped_column(String(64))
    ts: Mapped[datetime] = mapped_column(UtcDateTime)

