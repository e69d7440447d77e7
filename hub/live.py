"""Live push: what was just committed, to the consoles that may see it, across hub workers.

A producer (ingest, an API view, a rule) calls `await bus.publish([LiveItem(...)])` after its
commit. With a broker, the bus publishes the items on one non-shared topic (QoS 0) that every
hub worker subscribes to, so a guard connected to worker A sees what worker B stored; each
worker then hands the items to its own WebSocket listeners whose role and scope admit them.
Without a broker (API-only tests) items go straight to the local listeners.

Push is best effort: a console loads the current list from the REST API when it (re)connects
and then applies pushes; nothing depends on a push arriving. A worker subscribes to the pushes
only while a console listens to it: one without consoles would otherwise read and parse every
other worker's pushes (at a full ingest, a tenth of its time) to hand them to nobody.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Self

from pydantic_core import to_json

from hub.errors import PublishError
from hub.mqtt import Message, MqttClient
from hub.tasks import cancel_and_wait

log = logging.getLogger(__name__)

LIVE_TOPIC = "lintel/hub/live"  # outside lintel/v1/<site>/<edge>/: no edge may read or write it
_STAFF = frozenset({"admin", "company_admin", "manager", "guard", "technician"})
_CONTROL_ROOM = frozenset({"admin", "company_admin", "manager", "guard"})
# Who may listen to each channel (then each item is filtered by scope, see `admits`).
CHANNEL_ROLES: dict[str, frozenset[str]] = {
    "access": _CONTROL_ROOM,
    "door": _CONTROL_ROOM,
    "devices": _STAFF,
    "edges": _STAFF,
    "notices": _STAFF | {"resident"},  # notices to a site, a building or a unit
    "alarms": _STAFF,  # raised, repeated, acknowledged, cleared, commented (hub.rules)
    "camera": _CONTROL_ROOM,
    # a unit's arm state and its alarms (never a silent one) to its household and the control
    # room; never a zone's comings and goings (the edge does not send them)
    "homesec": _CONTROL_ROOM | {"resident"},  # camera alerts: residents' comings and goings, not for technicians
    # new and assigned orders to their technician, everything to the site's managers, and
    # a resident's repair request to that resident (hub.workorders.dispatch)
    "work_orders": frozenset({"admin", "company_admin", "manager", "technician", "resident"}),
    "patrol": _CONTROL_ROOM,  # a round started, a checkpoint read (hub.api.patrol)
    "vehicles": _CONTROL_ROOM,  # lane decisions and barrier events (issue 17)
}
LISTENER_QUEUE = 1000  # items kept for a slow console before the oldest are dropped


class LiveItem(NamedTuple):
    """One push (a tuple: the ingest makes one per stored event, where a frozen dataclass's
    __init__ cost four times as much)."""

    channel: str
    data: dict[str, Any]  # JSON-able
    site_id: str
    building_id: int | None = None
    household_id: int | None = None  # residents of this household see it
    user_id: int | None = None  # only this user (and the site's admin/manager) sees it



@dataclass(eq=False)
class Listener:
    """One console connection: who it is and what it listens to."""

    role: str
    user_id: int
    channels: frozenset[str]
    site_id: str | None = None  # a staff user's site; a resident's household's site
    household_id: int | None = None
    building_id: int | None = None  # a resident's building
    sites: frozenset[str] | None = None  # a company admin's: their company's sites
    lang: str = "en"  # the texts of the pushes are rendered in it (hub.texts)
    queue: asyncio.Queue[LiveItem] = field(
        default_factory=lambda: asyncio.Queue(maxsize=LISTENER_QUEUE))
    dropped: int = 0

    def admits(self, item: LiveItem) -> bool:
        if item.channel not in self.channels or self.role not in CHANNEL_ROLES.get(
                item.channel, frozenset()):
            return False
        if self.role == "admin":  # the platform's
            return True
        if self.role == "company_admin":  # nothing of another company, ever
            return self.sites is not None and item.site_id in self.sites
        if self.role == "resident":
            if item.household_id is not None or item.user_id is not None:
                return (self.household_id is not None and item.household_id == self.household_id
                        ) or item.user_id == self.user_id
            if item.building_id is not None:
                return item.building_id == self.building_id
            return item.site_id == self.site_id
        if item.site_id != self.site_id:
            return False
        return item.user_id is None or item.user_id == self.user_id or self.role == "manager"

    def offer(self, item: LiveItem) -> None:
        if self.queue.full():  # a console that stopped reading: keep the newest
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(item)


class LiveBus:
    """`async with LiveBus(mqtt) as bus:`; `LiveBus()` alone is the in-process bus."""

    def __init__(self, mqtt: MqttClient | None = None) -> None:
        self._publisher = mqtt
        self._subscriber: MqttClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._listeners: set[Listener] = set()

    async def __aenter__(self) -> Self:
        if self._publisher is not None:
            # A second connection with a clean session: QoS 0 pushes to this worker only,
            # never queued for it while away, and never mixed into the ingest's queue. It
            # subscribes when the first console listens (see listen()).
            self._subscriber = self._publisher.companion("live", [])
            await self._subscriber.__aenter__()
            self._task = asyncio.create_task(self._receive(self._subscriber), name="live-bus")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self._subscriber is not None:
            await self._subscriber.close()
            self._subscriber = None

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Until the pushes of every worker reach this one's listeners (the broker has
        acknowledged the subscription), or at once when none listens."""
        if self._subscriber is not None:
            await self._subscriber.wait_ready(timeout)

    def listen(self, listener: Listener) -> None:
        """Hand `listener` what is pushed from now on (from other workers once `wait_ready()`
        has returned)."""
        self._listeners.add(listener)
        if self._subscriber is not None and len(self._listeners) == 1:
            self._subscriber.subscribe(LIVE_TOPIC, 0)

    def unlisten(self, listener: Listener) -> None:
        self._listeners.discard(listener)
        if self._subscriber is not None and not self._listeners:
            self._subscriber.unsubscribe(LIVE_TOPIC)

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    async def publish(self, items: Sequence[LiveItem]) -> None:
        """Push committed changes; never raises (a lost push costs a console a refresh)."""
        if not items:
            return
        if self._publisher is None:
            self._deliver(items)
            return
        # each item as an array in LiveItem's field order: a dict per item (_asdict) cost a
        # third of the push, which the ingest makes for every stored event
        payload = to_json(items, fallback=str)
        try:
            await self._publisher.publish(LIVE_TOPIC, payload, qos=0)
        except PublishError as exc:  # the consoles refresh when they reconnect
            log.info("live push of %d item(s) not sent: %s", len(items), exc)

    def _deliver(self, items: Sequence[LiveItem]) -> None:
        for listener in self._listeners:
            for item in items:
                if listener.admits(item):
                    listener.offer(item)

    async def _receive(self, mqtt: MqttClient) -> None:
        while True:
            message = await mqtt.messages.get()
            if not self._listeners:
                continue  # sent before the unsubscription took effect
            items = _parse(message)
            if items:
                self._deliver(items)


def _parse(message: Message) -> list[LiveItem]:
    try:  # objects: a push from a worker of an earlier version
        return [LiveItem(*raw) if isinstance(raw, list) else LiveItem(**raw)
                for raw in json.loads(message.payload)]
    except (ValueError, TypeError) as exc:  # only hub workers can write this topic
        log.warning("live: ignored a malformed push on %s: %s", message.topic, exc)
        return []


__all__ = ["CHANNEL_ROLES", "LIVE_TOPIC", "Listener", "LiveBus", "LiveItem"]
