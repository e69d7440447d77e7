"""The demo's running commentary: each door decision, door alert and alarm as one log line.

It listens to the hub's live feed as the console does (hub.live), after the commit, and names
who it was from the registry: `B1-main 1号楼 正门: card 1001 (张伟) granted`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Self

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.live import Listener, LiveBus, LiveItem
from hub.models import CardCredential, Door, Resident
from hub.tasks import cancel_when_idle
from hub.texts.render import localize

log = logging.getLogger("lintel.demo")

# Door events worth a line of their own; the routine unlock/lock/open/close stay at debug.
_NOTABLE_DOOR_EVENTS = frozenset({"forced_open", "held_open", "lockdown", "released", "rex"})
_ALARM_EVENTS = frozenset({"raised", "cleared"})
STOP_GRACE_S = 2.0  # for the line being written when the demo stops


class DoorFeed:
    """`async with DoorFeed(hub.live, hub.sessions):` logs until exit."""

    def __init__(self, live: LiveBus, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._live = live
        self._sessions = sessions
        # an admin's view of every site: the demo has one
        self._listener = Listener(role="admin", user_id=0,
                                  channels=frozenset({"access", "door", "alarms"}))
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()  # not in the middle of describing an item
        self._idle.set()

    async def __aenter__(self) -> Self:
        self._live.listen(self._listener)
        self._task = asyncio.create_task(self._run(), name="demo-door-feed")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._live.unlisten(self._listener)
        await cancel_when_idle(self._task, self._idle, STOP_GRACE_S)
        self._task = None

    async def _run(self) -> None:
        while True:
            item = await self._listener.queue.get()
            self._idle.clear()
            try:
                await self._log(item)
            except Exception:  # a line not written must not end the commentary
                log.exception("could not describe a %s event", item.channel)
            finally:
                self._idle.set()

    async def _log(self, item: LiveItem) -> None:
        data = item.data
        if item.channel == "access":
            log.info("%s", await self._describe_access(item.site_id, data))
        elif item.channel == "door":
            level = logging.INFO if data.get("event") in _NOTABLE_DOOR_EVENTS else logging.DEBUG
            if log.isEnabledFor(level):
                door = await self._door(item.site_id, str(data.get("door")))
                cause = f" ({data['cause']})" if data.get("cause") else ""
                log.log(level, "%s: %s%s", door, data.get("event"), cause)
        elif item.channel == "alarms" and data.get("event") in _ALARM_EVENTS:
            alarm = data.get("alarm") or {}
            # the console's words (the demo speaks English), not the text's code and parameters
            log.warning("alarm %s: %s %s, %s", data["event"], alarm.get("severity"),
                        alarm.get("type"), localize(alarm.get("message"), "en"))

    async def _describe_access(self, site_id: str, data: dict[str, Any]) -> str:
        """`B1-main 1号楼 正门: card 1001 (张伟) granted` — or denied, with the reason."""
        door = await self._door(site_id, str(data.get("door")))
        kind = str(data.get("credential_type", "card"))
        credential = str(data.get("credential", ""))
        if len(credential) > 16:  # a QR or Bluetooth token: its start is enough
            credential = credential[:12] + "…"
        who = await self._who(site_id, data)
        outcome = str(data.get("result"))
        if outcome != "granted":
            outcome += f": {data.get('reason')}"
        if data.get("warning"):
            outcome += f" (warning: {data['warning']})"
        return f"{door}: {kind} {credential} ({who}) {outcome}"

    async def _door(self, site_id: str, name: str) -> str:
        async with self._sessions() as session:
            label = await session.scalar(
                select(Door.label).where(Door.site_id == site_id, Door.name == name))
        return f"{name} {label}" if label else name

    async def _who(self, site_id: str, data: dict[str, Any]) -> str:
        if data.get("pass_id") is not None:
            return f"visitor pass {data['pass_id']}"
        async with self._sessions() as session:
            if data.get("resident_id") is not None:
                name = await session.scalar(
                    select(Resident.name).where(Resident.id == data["resident_id"]))
            elif data.get("credential_type", "card") == "card":
                name = await session.scalar(
                    select(Resident.name).join(CardCredential,
                                               CardCredential.resident_id == Resident.id)
                    .where(CardCredential.site_id == site_id,
                           CardCredential.card_number == data.get("credential")))
            else:
                name = None
        return name or "unknown"


__all__ = ["DoorFeed"]
