"""Commands to edges: recorded first (who and why), then sent signed; the edge's answer closes them."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol, cast

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.credentials.downlink import DownlinkSigner
from hub.errors import Conflict, MqttError, NotFound
from hub.models import Edge, EdgeCommandRow, EdgeConfigVersion, PermissionVersion
from hub.mqtt import MqttClient
from hub.texts import word
from wire import CommandAck, EdgeCommand, topics
from wire.commands import VALIDITY_S, CommandName
from wire.homesec import ArmMode

if TYPE_CHECKING:
    from hub.compiler import PermissionPublisher

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_S = 5.0


VersionTable = type[PermissionVersion] | type[EdgeConfigVersion]
# what a reset of each names, when there is nothing to reset to: in English, and its word
_RESET_OF: dict[VersionTable, tuple[str, str]] = {
    PermissionVersion: ("permission snapshot", "permissions"),
    EdgeConfigVersion: ("configuration", "configuration")}


class ConfigPush(Protocol):
    """Compiles and publishes one edge's configuration (hub.installation.push.ConfigPusher)."""

    async def push(self, edge_id: int, *, force: bool = False) -> object: ...


class CommandSender:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], mqtt: MqttClient,
                 downlink: DownlinkSigner, publisher: PermissionPublisher | None = None,
                 configs: ConfigPush | None = None) -> None:
        self._sessions = sessions
        self._mqtt = mqtt
        self._downlink = downlink
        self._publisher = publisher  # re-sends the snapshot after a reset_permissions
        self._configs = configs  # ... and the configuration after a reset_config

    async def send(self, *, site: str, edge: str, command: CommandName, reason: str, issued_by: str,
                   door: str | None = None, duration_s: float | None = None,
                   perm_version: int | None = None, perm_hash: str | None = None,
                   config_version: int | None = None, config_hash: str | None = None,
                   lane: str | None = None, plate: str | None = None,
                   device: str | None = None, arm_mode: ArmMode | None = None,
                   bypass: list[int] | None = None) -> EdgeCommandRow:
        """Record the command, then publish it signed (QoS 1, not retained: a stale unlock must
        not be replayed to an edge that reconnects later; it is valid for VALIDITY_S and its id
        is refused a second time). Returns the stored row."""
        now = datetime.now(UTC)
        message = EdgeCommand(id=str(uuid.uuid4()), site=site, edge=edge, ts=now,
                              expires=now + timedelta(seconds=VALIDITY_S),
                              command=command,
                              door=door, reason=reason, issued_by=issued_by,
                              duration_s=duration_s, perm_version=perm_version,
                              perm_hash=perm_hash, config_version=config_version,
                              config_hash=config_hash, lane=lane, plate=plate,
                              device=device, arm_mode=arm_mode, bypass=bypass)
        # the row's `door` names what was commanded: a door, a lane, or an alarm panel
        row = EdgeCommandRow(id=message.id, site_id=site, edge=edge,
                             door=door or lane or device, command=command,
                             reason=reason, issued_by=issued_by, issued_at=now, status="sent",
                             answer=None, answered_at=None)
        async with self._sessions() as session, session.begin():
            session.add(row)
            await session.flush()
            # the caller reads the row after the commit, which may expire a bound one
            session.expunge(row)
        topic = topics.cmd(site, edge)
        try:
            await self._mqtt.publish(topic, self._downlink.sign(topic, message.model_dump_json().encode()),
                                     qos=1, retain=False, timeout=PUBLISH_TIMEOUT_S)
        except MqttError as exc:
            log.warning("command %s to %s/%s not sent: %s", message.id, site, edge, exc)
            async with self._sessions() as session, session.begin():
                await session.execute(
                    update(EdgeCommandRow).where(EdgeCommandRow.id == message.id)
                    .values(status="unsent", answer=f"broker: {exc}"[:500],
                            answered_at=datetime.now(UTC)))
            row.status, row.answer = "unsent", f"broker: {exc}"[:500]
        return row

    async def _current_version(self, edge_id: int, table: VersionTable
                               ) -> tuple[str, str, int, str]:
        """The edge's site and name, and the version and hash of `table` the hub holds for it:
        what a reset names. NotFound for no such edge; Conflict when nothing was published."""
        async with self._sessions() as session:
            found = (await session.execute(
                select(Edge.site_id, Edge.name, table.version, table.hash)
                .join(table, table.edge_id == Edge.id, isouter=True)
                .where(Edge.id == edge_id)
            )).first()
        if found is None:
            raise NotFound("edge", edge_id)
        site, edge, _, digest = found
        version = cast("int | None", found[2])  # the outer join's: nothing published yet
        if version is None:
            english, thing = _RESET_OF[table]
            raise Conflict(f"no {english} has been published to edge {edge} yet: there is "
                           "nothing to reset it to", "error.nothing_to_reset", edge=edge,
                           what=word(f"thing.{thing}", thing))
        return site, edge, version, digest

    async def reset_permissions(self, *, edge_id: int, reason: str,
                                issued_by: str) -> EdgeCommandRow:
        """Bring an edge back to the hub's snapshot whatever version it holds (one stuck on a
        bad, e.g. far-future, version refuses every lower one): a signed command naming the
        hub's current version and hash, then that snapshot sent again."""
        site, edge, version, digest = await self._current_version(edge_id, PermissionVersion)
        row = await self.send(site=site, edge=edge, command="reset_permissions", reason=reason,
                              issued_by=issued_by, perm_version=version, perm_hash=digest)
        if row.status == "sent" and self._publisher is not None:
            await self._publisher.publish_site(site, edges=[edge_id], force=True)
        return row

    async def reset_config(self, *, edge_id: int, reason: str, issued_by: str
                           ) -> EdgeCommandRow:
        """Bring an edge back to the hub's configuration whatever version it runs (after the
        hub's database was restored from a backup, its versions count again from lower and
        the edge refuses them all): the configuration compiled and versioned now, a signed
        command naming that version and hash, then that configuration sent again."""
        if self._configs is None:
            raise Conflict("this hub does not publish edge configurations",
                           "error.no_config_publisher")
        await self._configs.push(edge_id)  # the current installation, versioned
        site, edge, version, digest = await self._current_version(edge_id, EdgeConfigVersion)
        row = await self.send(site=site, edge=edge, command="reset_config", reason=reason,
                              issued_by=issued_by, config_version=version, config_hash=digest)
        if row.status == "sent":
            await self._configs.push(edge_id, force=True)
        return row


async def record_acks(session: AsyncSession, acks: list[tuple[topics.TopicParts, CommandAck]],
                      now: datetime) -> None:
    """Close the commands these acks answer (only from the edge the command went to, and only
    a command still open: an answer never overwrites the first one)."""
    for parts, ack in acks:
        await session.execute(
            update(EdgeCommandRow)
            .where(EdgeCommandRow.id == ack.id, EdgeCommandRow.site_id == parts.site,
                   EdgeCommandRow.edge == parts.edge,
                   EdgeCommandRow.status.in_(("sent", "unsent")))
            .values(status=ack.result, answer=ack.reason[:500], answered_at=now)
        )
