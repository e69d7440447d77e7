"""The reader's language for the texts the hub made (alarm messages, titles, notices,
validation errors): `Accept-Language`, else the console's cookie, else English."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from hub.texts import language_of, set_reader_language


@web.middleware
async def language_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    set_reader_language(language_of(request))  # a context variable: this request's task only
    return await handler(request)


__all__ = ["language_middleware"]
