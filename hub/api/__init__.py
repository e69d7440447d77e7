"""The hub's REST API (aiohttp, OpenAPI described): auth and roles, registry, access log."""

from hub.api.app import API_PREFIX, create_app
from hub.api.core.auth import create_user, require_role

__all__ = ["API_PREFIX", "create_app", "create_user", "require_role"]
