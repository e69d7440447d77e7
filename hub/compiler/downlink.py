"""Downlink: the permission messages as they leave the hub for an edge, the retained snapshot
and the delta sent before it, signed (wire.signed): the edge takes nothing else."""

from __future__ import annotations

import asyncio
from datetime import datetime

from hub.credentials.downlink import DownlinkSigner
from hub.mqtt import MqttClient
from wire import PermissionDelta, topics
from wire.permissions import sealed_payload


class PermissionDownlink:
    """Publishes at QoS 1 and returns once the broker acknowledged (or raises PublishError)."""

    def __init__(self, mqtt: MqttClient, signer: DownlinkSigner, *, timeout_s: float) -> None:
        self._mqtt = mqtt
        self._signer = signer
        self._timeout_s = timeout_s

    async def send_delta(self, delta: PermissionDelta) -> None:
        """Not retained: an edge that missed it takes the snapshot that follows."""
        topic = topics.perm_delta(delta.site, delta.edge)
        await self._mqtt.publish(
            topic, self._signer.sign(topic, delta.model_dump_json().encode()), qos=1,
            retain=False, timeout=self._timeout_s)

    async def send_snapshot(self, site_id: str, edge: str, content_json: str, version: int,
                            digest: str, issued_at: datetime) -> None:
        """Retained: an edge that connects later gets the latest snapshot at once."""
        topic = topics.perm(site_id, edge)
        # signing hashes the whole snapshot (tens of ms at 100,000 cards): off the loop
        payload = await asyncio.to_thread(
            self._signer.sign, topic, sealed_payload(content_json, version, digest, issued_at))
        await self._mqtt.publish(topic, payload, qos=1, retain=True, timeout=self._timeout_s)


__all__ = ["PermissionDownlink"]
