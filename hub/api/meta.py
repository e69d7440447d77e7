"""Health and the OpenAPI document: public, no token needed."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from hub.api.endpoints import EndpointTable
from hub.api.schemas import HealthOut
from hub.api.store import reading

log = logging.getLogger(__name__)
routes = EndpointTable(tag="meta")
OPENAPI = web.AppKey("openapi", dict)


@routes.get("/health", response=HealthOut, public=True, errors={503: HealthOut})
async def health(request: web.Request) -> HealthOut | web.Response:
    """Whether the hub and its database answer."""
    try:
        async with reading(request) as session:
            await session.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        log.warning("health check: database unreachable: %s", exc)
        body = HealthOut(status="degraded", database=f"error: {type(exc).__name__}")
        return web.json_response(body.model_dump(mode="json"), status=503)
    return HealthOut(status="ok", database="ok")


@routes.get("/openapi.json", public=True)
async def get_openapi(request: web.Request) -> web.Response:
    """This API described as OpenAPI 3.1."""
    return web.json_response(request.app[OPENAPI])
