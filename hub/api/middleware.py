"""The one place where errors become HTTP answers (JSON under /api/)."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy.exc import IntegrityError

from hub import errors as hub_errors
from hub.api.errors import (
    ApiError,
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    TooManyRequestsError,
    UnauthorizedError,
    UnavailableError,
)

log = logging.getLogger(__name__)


def from_hub_error(exc: hub_errors.HubError) -> ApiError:
    """Errors raised by shared hub code (compiler, ingest helpers) in API terms."""
    if isinstance(exc, hub_errors.NotFound):
        return NotFoundError(exc.what, exc.key)
    if isinstance(exc, hub_errors.Conflict):
        return ConflictError(str(exc))
    if isinstance(exc, hub_errors.Forbidden):
        return ForbiddenError(str(exc))
    if isinstance(exc, hub_errors.InvalidInput):
        return InvalidError.one(exc.field, exc.reason)
    if isinstance(exc, hub_errors.DatabaseError):
        return UnavailableError("the database is unavailable; try again")
    return ApiError("internal error; see the hub's log")


def error_response(exc: ApiError) -> web.Response:
    if isinstance(exc, InvalidError):
        body: dict[str, object] = {
            "error": exc.code,
            "detail": [{"field": p.field, "reason": p.reason} for p in exc.problems],
        }
    else:
        body = {"error": exc.code, "detail": exc.detail}
    headers = None
    if isinstance(exc, UnauthorizedError):
        headers = {"WWW-Authenticate": 'Bearer realm="lintel"'}
    if isinstance(exc, TooManyRequestsError):
        headers = {"Retry-After": str(exc.retry_after)}
    return web.json_response(body, status=exc.status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc)
    except hub_errors.HubError as exc:
        api_error = from_hub_error(exc)
        if api_error.status >= 500:
            log.error("hub error on %s %s: %s", request.method, request.path, exc)
        return error_response(api_error)
    except IntegrityError as exc:
        # a race our own checks could not see (two writers at once): the database said no
        log.info("integrity error on %s %s: %s", request.method, request.path, exc.orig)
        return web.json_response(
            {"error": "conflict", "detail": "the change conflicts with existing data"}, status=409
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        slug = exc.reason.lower().replace(" ", "_")
        detail = f"{exc.reason}: {request.method} {request.path}"
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return web.json_response(
            {"error": slug, "detail": detail}, status=exc.status, headers=headers
        )
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response(
            {"error": "internal", "detail": "internal error; see the hub's log"}, status=500
        )
