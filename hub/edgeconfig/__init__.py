"""Edge configuration: the installation compiled for an edge (wire.config) versioned, signed and
published retained on its `config` topic; the edge applies it live and reports the version it
runs, or why it refused one (recorded from its state by hub.liveness)."""

from hub.edgeconfig.publish import (
    ConfigPublished,
    EdgeConfigPublisher,
    config_refusal,
    publish_edge_config,
)

__all__ = ["ConfigPublished", "EdgeConfigPublisher", "config_refusal", "publish_edge_config"]
