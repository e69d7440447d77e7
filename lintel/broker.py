"""The embedded MQTT broker (amqtt) for the one-command demo and the embedded test path.

amqtt speaks MQTT 3.1.1 only: no shared subscriptions, so a hub in front of it
subscribes without a `$share/` group (one hub process, as in the demo).
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Self

from amqtt.broker import Broker


class EmbeddedBroker:
    """`async with EmbeddedBroker(port=...)` serves MQTT on host:port until exit."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.host = host
        self.port = port
        self._broker: Broker | None = None

    async def __aenter__(self) -> Self:
        # amqtt logs every connection at INFO; keep the demo's console readable.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            # A username is required: amqtt keeps no offline queue for anonymous sessions,
            # and the hub's persistent session must queue events while it is down.
            # The demo broker listens on loopback only and does not check passwords.
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": False}
            },
        }
        self._broker = Broker(config)
        await self._broker.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None
