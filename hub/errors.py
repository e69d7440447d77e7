"""The hub's exception tree. Convert once, at the boundary: NotFound becomes a 404 in the API."""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigError(HubError):
    """Settings that cannot be used; `key` is the dotted path of the bad value."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


class NotFound(HubError):
    def __init__(self, what: str, key: object) -> None:
        super().__init__(f"{what} {key!r} not found")
        self.what = what
        self.key = key


class Conflict(HubError):
    """The change contradicts what is stored (duplicate name, stale version, ...). `code`
    and `params` are its words for people (hub.texts), the message stays English."""

    def __init__(self, message: str, code: str | None = None, **params: Any) -> None:
        super().__init__(message)
        self.text = (code, params) if code else None


class Forbidden(HubError):
    """The actor may not act on what they named (a site outside their scope)."""


class InvalidInput(HubError):
    """A refused value: `field`, `reason` in English, `code` and `params` for people
    (hub.texts)."""

    def __init__(self, field: str, reason: str, code: str | None = None, **params: Any) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.code = code
        self.params = params


class DatabaseError(HubError):
    """The database refused or could not be reached."""


class MqttError(HubError):
    """The broker could not be reached or refused an operation."""


class PublishError(MqttError):
    """A publish was not acknowledged by the broker."""


__all__ = [
    "ConfigError",
    "Conflict",
    "DatabaseError",
    "Forbidden",
    "HubError",
    "InvalidInput",
    "MqttError",
    "NotFound",
    "PublishError",
]
