"""The one place where errors become HTTP answers (JSON under /api/), and the limits a JSON
body must keep before anything parses it."""

from __future__ import annotations

import logging
import re
from itertools import accumulate

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy.exc import IntegrityError

from hub import errors as hub_errors
from hub.api.core.endpoints import Endpoint
from hub.api.core.errors import (
    ApiError,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    TooManyRequestsError,
    UnauthorizedError,
    UnavailableError,
)
from hub.texts import TEXTS, reader_language, render

log = logging.getLogger(__name__)


def from_hub_error(exc: hub_errors.HubError) -> ApiError:
    """Errors raised by shared hub code (compiler, ingest helpers) in API terms."""
    if isinstance(exc, hub_errors.NotFound):
        return NotFoundError(exc.what, exc.key)
    if isinstance(exc, hub_errors.Conflict):
        return ConflictError(str(exc), getattr(exc, "text", None))
    if isinstance(exc, hub_errors.Forbidden):
        return ForbiddenError(str(exc))
    if isinstance(exc, hub_errors.InvalidInput):
        return InvalidError.one(exc.field, exc.reason, exc.code, **exc.params)
    if isinstance(exc, hub_errors.DatabaseError):
        return UnavailableError("the database is unavailable; try again",
                                ("error.db_unavailable", {}))
    return ApiError("internal error; see the hub's log", ("error.internal", {}))


def error_response(exc: ApiError) -> web.Response:
    if isinstance(exc, InvalidError):
        body: dict[str, object] = {
            "error": exc.code,
            "detail": [{"field": p.field, "reason": p.reason,
                        "message": p.message(reader_language())} for p in exc.problems],
        }
    else:
        # for people, in their language; a refusal without words of its own says its status
        # (tests/hub/api/test_refusal_texts.py keeps every raise from needing it)
        code, params = exc.text or ("error.refused", {"status": exc.status})
        body = {"error": exc.code, "detail": exc.detail,
                "message": render(code, params, reader_language())}
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
            {"error": "conflict", "detail": "the change conflicts with existing data",
             "message": render("error.conflict_race", None, reader_language())}, status=409
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        slug = exc.reason.lower().replace(" ", "_")
        detail = f"{exc.reason}: {request.method} {request.path}"
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        code = f"error.http_{exc.status}" if f"error.http_{exc.status}" in TEXTS else None
        message = render(code or "error.refused", {"status": exc.status}, reader_language())
        return web.json_response(
            {"error": slug, "detail": detail, "message": message}, status=exc.status,
            headers=headers
        )
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response(
            {"error": "internal", "detail": "internal error; see the hub's log",
             "message": render("error.internal", None, reader_language())}, status=500
        )


# A JSON body is held to aiohttp's own default body size (client_max_size, 1 MiB: no body the
# API takes today is larger; an endpoint that takes more says so with `max_body`), and to a
# nesting depth no model goes near: Python's json parser recurses once per level and fails
# past about a thousand, so the depth is counted before it runs.
MAX_JSON_BYTES = 1024**2
MAX_JSON_DEPTH = 32
# a string (to its closing quote, or to the end when unterminated, so no quote is read twice:
# linear time on any input) or a bracket outside strings, captured
_TOKENS = re.compile(rb'"(?:[^"\\]|\\(?:.|\Z))*(?:"|\Z)|([\[\]{}])', re.DOTALL)
_STEP = {b"[": 1, b"{": 1, b"]": -1, b"}": -1, b"": 0}


def json_depth(raw: bytes) -> int:
    """How deeply the arrays and objects of `raw` nest, counted without recursion (brackets
    inside strings do not count). Text that is not JSON gets some number: the parser says why."""
    return max(0, 0, *accumulate(_STEP[b] for b in _TOKENS.findall(raw)))


@web.middleware
async def body_limits_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """400 for a JSON body past its size (`MAX_JSON_BYTES` or the endpoint's `max_body`) or
    past `MAX_JSON_DEPTH`, before it is parsed; only for endpoints that parse a JSON body
    (uploads keep their own limits)."""
    endpoint = getattr(request.match_info.handler, "__self__", None)
    if not isinstance(endpoint, Endpoint) or endpoint.body is None or not request.body_exists:
        return await handler(request)
    limit = endpoint.max_body or MAX_JSON_BYTES
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BadRequestError(
            f"request body is {declared} bytes; a JSON body may have at most {limit} bytes",
            ("error.body_too_large", {"limit": limit}))
    try:
        raw = await request.read()  # kept by aiohttp: the endpoint reads the same bytes
    except web.HTTPRequestEntityTooLarge as exc:  # sent in chunks past aiohttp's own limit
        raise BadRequestError(
            f"request body is too large; a JSON body may have at most {limit} bytes",
            ("error.body_too_large", {"limit": limit})) from exc
    if len(raw) > limit:
        raise BadRequestError(
            f"request body is {len(raw)} bytes; a JSON body may have at most {limit} bytes",
            ("error.body_too_large", {"limit": limit}))
    depth = json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise BadRequestError(
            f"request body nests {depth} levels deep; at most {MAX_JSON_DEPTH} are accepted",
            ("error.body_too_deep", {"depth": depth, "max": MAX_JSON_DEPTH}))
    return await handler(request)
