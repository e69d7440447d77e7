"""Commands to edges: recorded first (who and why), then sent; the edge's answer closes them."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.errors import MqttError
from hub.models import EdgeCommandRow
from hub.mqtt import MqttClient
from wire import CommandAck, EdgeCommand, topics

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_S = 5.0


class CommandSender:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], mqtt: MqttClient) -> None:
        self._sessions = sessions
        self._mqtt = mqtt

    async def send(self, *, site: str, edge: str, command: str, reason: str, issued_by: str,
                   door: str | None = None, duration_s: float | None = None) -> EdgeCommandRow:
        """Record the command, then publish it (QoS 1, not retained: a stale unlock must not
        be replayed to an edge that reconnects later). Returns the stored row."""
        now = datetime.now(timezone.utc)
        message = EdgeCommand(id=str(uuid.uuid4()), ts=now, command=command,  # type: ignore[arg-type]
                              door=door, reason=reason, issued_by=issued_by,
                              duration_s=duration_s)
        row = EdgeCommandRow(id=message.id, site_id=site, edge=edge, door=door, command=command,
                             reason=reason, issued_by=issued_by, issued_at=now, status="sent",
                             answer=None, answered_at=None)
        async with self._sessions() as session, session.begin():
            session.add(row)
            await session.flush()
            # the caller reads the row after the commit, which may expire a bound one
            session.expunge(row)
        try:
            await self._mqtt.publish(topics.cmd(site, edge), message.model_dump_json().encode(),
                                     qos=1, retain=False, timeout=PUBLISH_TIMEOUT_S)
        except MqttError as exc:
            log.warning("command %s to %s/%s not sent: %s", message.id, site, edge, exc)
            async with self._sessions() as session, session.begin():
                await session.execute(
                    update(EdgeCommandRow).where(EdgeCommandRow.id == message.id)
                    .values(status="unsent", answer=f"broker: {exc}"[:500],
                            answered_at=datetime.now(timezone.utc)))
            row.status, row.answer = "unsent", f"broker: {exc}"[:500]
        return row


async def record_acks(session: AsyncSession, acks: list[tuple[topics.TopicParts, CommandAck]],
                      now: datetime) -> None:
    """Close the commands these acks answer (only from the edge the command went to)."""
    for parts, ack in acks:
        await session.execute(
            update(EdgeCommandRow)
            .where(EdgeCommandRow.id == ack.id, EdgeCommandRow.site_id == parts.site,
                   EdgeCommandRow.edge == parts.edge)
            .values(status=ack.result, answer=ack.reason[:500], answered_at=now)
        )
