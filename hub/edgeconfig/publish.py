"""Publish an edge's configuration: a version that only grows (per edge, across hub workers),
the content's hash, the hub's signature over the topic and body, retained at QoS 1."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.compiler.versions import bump_version
from hub.credentials.downlink import DownlinkSigner
from hub.errors import NotFound
from hub.models import Edge, EdgeConfigVersion, utcnow
from hub.mqtt import MqttClient
from wire import topics
from wire.config import ConfigContent, ConfigSnapshot


@dataclass(frozen=True, slots=True)
class ConfigPublished:
    edge: str
    version: int
    hash: str
    published: bool  # False: the content was unchanged, nothing sent


class EdgeConfigPublisher:
    """Signs and publishes configurations; the caller owns the transaction (commit after
    `publish` returns: a failed publish then bumps no version)."""

    def __init__(self, mqtt: MqttClient, signer: DownlinkSigner, *,
                 timeout_s: float = 30.0) -> None:
        self._mqtt = mqtt
        self._signer = signer
        self._timeout_s = timeout_s

    async def publish(self, session: AsyncSession, site: str, edge: str,
                      config: ConfigContent, *, force: bool = False) -> ConfigPublished:
        """Publish `config` to the edge `site`/`edge` (retained) when its content changed (or
        with `force`); NotFound when the registry has no such edge."""
        if (config.site, config.edge) != (site, edge):
            raise ValueError(f"the configuration names {config.site}/{config.edge}, "
                             f"not {site}/{edge}")
        edge_id = await session.scalar(
            select(Edge.id).where(Edge.site_id == site, Edge.name == edge))
        if edge_id is None:
            raise NotFound("edge", f"{site}/{edge}")
        digest = config.content_hash()
        version = await bump_version(session, edge_id, digest, of=EdgeConfigVersion)
        if version is None:
            version = int((await session.execute(
                select(EdgeConfigVersion.version).where(EdgeConfigVersion.edge_id == edge_id)
            )).scalar_one())
            if not force:
                return ConfigPublished(edge, version, digest, False)
        snapshot = ConfigSnapshot.build(config, version, utcnow())
        topic = topics.config(site, edge)
        payload = await asyncio.to_thread(self._signer.sign, topic, snapshot.payload())
        await self._mqtt.publish(topic, payload, qos=1, retain=True, timeout=self._timeout_s)
        return ConfigPublished(edge, version, digest, True)


async def publish_edge_config(publisher: EdgeConfigPublisher, session: AsyncSession, site: str,
                              edge: str, config: ConfigContent, *, force: bool = False
                              ) -> ConfigPublished:
    """`publisher.publish(...)`: for callers that compile an edge's configuration from the
    registry (commit the session after it returns)."""
    return await publisher.publish(session, site, edge, config, force=force)


def config_refusal(edge: Edge) -> str | None:
    """Why the edge refused a configuration, while it runs something older than that one."""
    if edge.config_refused_version is not None and edge.config_version_held is not None \
            and edge.config_refused_version <= edge.config_version_held:
        return None
    return edge.config_refused


__all__ = ["ConfigPublished", "EdgeConfigPublisher", "config_refusal", "publish_edge_config"]
