"""Which database a request reads from, when a streaming replica is configured (hub.replica).

GET and HEAD read from the replica; anything else reads and writes on the primary. A request
that changed something answers with the primary's WAL position (cookie `lintel_lsn` and header
`X-Lintel-LSN`); a read that carries it (cookie or header) goes to the primary until the
replica has replayed that far, then the cookie is cleared."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.core.keys import READ_SESSIONS, REPLICA, SESSIONS
from hub.replica import valid_lsn

LSN_COOKIE = "lintel_lsn"
LSN_HEADER = "X-Lintel-LSN"
# longer than any lag worth reading through; past it a client reads the replica again
LSN_COOKIE_MAX_AGE_S = 300
READ_METHODS = frozenset({"GET", "HEAD"})


@web.middleware
async def replica_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    reads = request.app.get(REPLICA)
    if reads is None:
        return await handler(request)
    if request.method not in READ_METHODS:
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # a redirect after a console form is a success too
            if exc.status < 400:
                await _hand_lsn(request, exc)
            raise
        if response.status < 400:
            await _hand_lsn(request, response)
        return response
    lsn = request.cookies.get(LSN_COOKIE) or request.headers.get(LSN_HEADER)
    if lsn is not None and not valid_lsn(lsn):
        lsn = None  # a mangled position is ignored, not an error: the read is still served
    caught_up = reads.usable() and (lsn is None or await reads.caught_up(lsn))
    if caught_up:
        request[READ_SESSIONS] = reads.replica
    response = await handler(request)
    if caught_up and request.cookies.get(LSN_COOKIE) is not None:
        response.del_cookie(LSN_COOKIE, path="/")
    return response


async def _hand_lsn(request: web.Request, response: web.StreamResponse) -> None:
    try:
        lsn = await request.app[REPLICA].primary_lsn()
    except (SQLAlchemyError, OSError):
        return  # the write is committed; without a position the client may read stale data
    response.headers[LSN_HEADER] = lsn
    response.set_cookie(LSN_COOKIE, lsn, max_age=LSN_COOKIE_MAX_AGE_S, path="/",
                        httponly=True, samesite="Lax")


async def read_session(request: web.Request) -> AsyncSession:
    """A session for reading: the replica's when this request may use it, else the primary's.
    A replica that cannot be reached is skipped (and marked down): the read still succeeds."""
    replica = request.get(READ_SESSIONS)
    if replica is None:
        return request.app[SESSIONS]()
    session: AsyncSession = replica()
    try:
        await session.connection()
    except (SQLAlchemyError, OSError) as exc:
        await session.close()
        request.app[REPLICA].mark_down(exc)
        return request.app[SESSIONS]()
    return session
