"""The edge's exception tree: few, flat, with context."""


class EdgeError(Exception):
    """Base of every error the edge agent raises on purpose."""


class ConfigError(EdgeError):
    """The agent's configuration file is missing or wrong; the message names the key."""


class OutboxError(EdgeError):
    """The durable outbox could not store or read an event."""
