"""Which language a reader reads: `Accept-Language` (`zh-CN`, `zh`, `en`, by q), else the
console's language cookie, else the default (the API: English, as it always answered)."""

from __future__ import annotations

from contextvars import ContextVar

from aiohttp import web

LANGUAGES = ("zh", "en")
API_DEFAULT_LANGUAGE = "en"
LANG_COOKIE = "lintel_lang"  # set by the console's language switch
# the language of the API request being answered (set per request by hub.api.core.language)
_READER: ContextVar[str] = ContextVar("reader_language", default=API_DEFAULT_LANGUAGE)


def parse_accept_language(header: str | None) -> str | None:
    """The first language of the header (by q, then order) that the hub speaks, or None."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > 0:
            ranked.append((-q, index, primary))
    return min(ranked)[2] if ranked else None


def language_of(request: web.Request, default: str = API_DEFAULT_LANGUAGE) -> str:
    """The reader's language for an API answer."""
    chosen = parse_accept_language(request.headers.get("Accept-Language"))
    if chosen is not None:
        return chosen
    cookie = request.cookies.get(LANG_COOKIE)
    return cookie if cookie in LANGUAGES else default


def reader_language() -> str:
    """The language of the API request being answered (English outside a request)."""
    return _READER.get()


def set_reader_language(lang: str) -> None:
    _READER.set(lang if lang in LANGUAGES else API_DEFAULT_LANGUAGE)


__all__ = ["API_DEFAULT_LANGUAGE", "LANGUAGES", "LANG_COOKIE", "language_of",
           "parse_accept_language", "reader_language", "set_reader_language"]
