"""Everything the edge tells the hub goes through here: into the outbox first, then a nudge
to the uplink (which may not be connected yet: the outbox keeps it until it is)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edge.outbox import Outbox
from wire import AgentData, CommandAck
from wire.events import AgentEventType


class Reporter:
    def __init__(self, outbox: Outbox, *, edge: str, wake: Callable[[], None]) -> None:
        self._outbox = outbox
        self._wake = wake  # the uplink's: new messages are waiting
        self._edge = edge

    def event(self, device: str, data: Any) -> None:
        """An event of `device` (a door, reader, elevator, camera …): its kind follows `data`."""
        self._outbox.add_event(device, data)
        self._wake()

    def agent(self, event: AgentEventType, detail: str, *, device: str | None = None,
              perm_version: int | None = None, reason: str | None = None,
              topic: str | None = None, config_version: int | None = None) -> None:
        """An `agent` event: the edge itself (or `device`, when it is about one) reports."""
        self.event(
            device or self._edge,
            AgentData(event=event, detail=detail, perm_version=perm_version,
                      reason=reason, topic=topic, config_version=config_version),
        )

    def downlink_refused(self, reason: str, topic: str, detail: str) -> None:
        """A message from the hub refused (edge.trust): the guards' alarm."""
        self.agent("downlink_refused", detail[:2000], reason=reason, topic=topic)

    def command_ack(self, ack: CommandAck) -> None:
        """A command's answer, through the same outbox (confirmed by the hub like an event)."""
        self._outbox.add_command_ack(ack)
        self._wake()

    def wake(self) -> None:
        """Messages went into the outbox some other way (retried after a full disk)."""
        self._wake()
