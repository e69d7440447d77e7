"""Health and the OpenAPI document: public, no token needed."""

from __future__ import annotations

import logging
from dataclasses import asdict

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from hub.api.core.endpoints import EndpointTable
from hub.api.core.keys import REPLICA
from hub.api.core.schemas import HealthOut, ReplicaOut
from hub.api.core.store import reading

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
    reads = request.app.get(REPLICA)
    if reads is None:
        return HealthOut(status="ok", database="ok")
    replica = ReplicaOut(**asdict(reads.status))
    # a replica down degrades nothing the caller sees (reads use the primary) but is said
    return HealthOut(status="ok" if replica.state != "down" else "degraded", database="ok",
                     replica=replica)


@routes.get("/metrics", public=True, produces=("text/plain",))
async def metrics(request: web.Request) -> web.Response:
    """The read replica's state in Prometheus' text format (empty without a replica)."""
    reads = request.app.get(REPLICA)
    lines: list[str] = []
    if reads is not None:
        status = reads.status
        lines += ["# HELP lintel_replica_up 1 when the read replica answers, else 0",
                  "# TYPE lintel_replica_up gauge",
                  f"lintel_replica_up {0 if status.state == 'down' else 1}"]
        if status.lag_bytes is not None and status.lag_s is not None:
            lines += ["# HELP lintel_replica_lag_bytes WAL the read replica has not replayed",
                      "# TYPE lintel_replica_lag_bytes gauge",
                      f"lintel_replica_lag_bytes {status.lag_bytes}",
                      "# HELP lintel_replica_lag_seconds age of the oldest write not replayed",
                      "# TYPE lintel_replica_lag_seconds gauge",
                      f"lintel_replica_lag_seconds {status.lag_s}"]
    return web.Response(text="".join(line + "\n" for line in lines),
                        content_type="text/plain", charset="utf-8")


@routes.get("/openapi.json", public=True)
async def get_openapi(request: web.Request) -> web.Response:
    """This API described as OpenAPI 3.1."""
    return web.json_response(request.app[OPENAPI])
