"""The permission compiler: the registry compiled into one snapshot per edge and published.

load (queries) → compile (pure) → delta (pure) → versions → downlink (the MQTT messages);
publisher.PermissionPublisher runs them when the registry changes.
"""

from hub.compiler.compile import Registry, compile_edge
from hub.compiler.load import affected_edges, load_registry
from hub.compiler.publisher import PermissionPublisher, PublishResult

__all__ = [
    "PermissionPublisher", "PublishResult", "Registry", "affected_edges", "compile_edge",
    "load_registry",
]
