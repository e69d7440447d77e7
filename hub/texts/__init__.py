"""Texts the hub makes for people (alarm messages, work-order titles, notices a rule posts,
history actors, command names, validation errors), kept as a code with parameters and
rendered in the reader's language: the console's language switch, the API's
`Accept-Language` (`zh-CN` or `en`).

The catalogue (`hub.texts.catalogue`) holds every code's English and Chinese; a stored row
keeps the code and its parameters, so it reads in either language, and old rows still render.
"""

from __future__ import annotations

from hub.texts.catalogue import TEXTS
from hub.texts.language import (
    API_DEFAULT_LANGUAGE,
    LANG_COOKIE,
    LANGUAGES,
    language_of,
    parse_accept_language,
    reader_language,
    set_reader_language,
)
from hub.texts.render import (
    Params,
    TextError,
    actor_marker,
    actor_text,
    fields_of,
    localize,
    marker,
    pair,
    render,
    render_or,
    word,
)

__all__ = ["API_DEFAULT_LANGUAGE", "LANGUAGES", "LANG_COOKIE", "TEXTS", "Params", "TextError",
           "actor_marker", "actor_text", "fields_of", "language_of", "localize", "marker", "pair",
           "parse_accept_language", "reader_language", "render", "render_or",
           "set_reader_language", "word"]
