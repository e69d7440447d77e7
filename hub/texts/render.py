"""Rendering a code with its parameters in one language, and the markers that carry a text
unrendered until it reaches its reader (an API answer, a live push)."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from hub.texts.catalogue import TEXTS

Params = Mapping[str, Any]
_OTHER = {"zh": "en", "en": "zh"}
_FORMATTER = string.Formatter()


class TextError(KeyError):
    """A code the catalogue does not have."""


def fields_of(template: str) -> set[str]:
    """The `{name}` fields of a template."""
    return {name for _, name, _, _ in _FORMATTER.parse(template) if name}


def _value(value: Any, lang: str) -> str:
    """A parameter as text: a pair `{"en", "zh"}` gives its language, a nested `{"code"}` is
    rendered, a number loses a `.0`, nothing becomes `-`."""
    if value is None or value == "":
        return "-"
    if isinstance(value, dict):
        if "code" in value:
            return render_or(str(value["code"]), value.get("params"), lang,
                             str(value.get("fallback", value["code"])))
        found = value.get(lang) or value.get(_OTHER.get(lang, "en"))
        return "-" if found in (None, "") else str(found)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Fill(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "-"


def render(code: str, params: Params | None, lang: str) -> str:
    """The text of `code` in `lang` with its parameters filled; an unknown code is an error."""
    try:
        en, zh = TEXTS[code]
    except KeyError as exc:
        raise TextError(f"no text {code!r} in hub/texts/catalogue.py") from exc
    template = zh if lang == "zh" else en
    values = _Fill({k: _value(v, lang) for k, v in (params or {}).items()})
    return template.format_map(values)


def render_or(code: str | None, params: Params | None, lang: str, fallback: str) -> str:
    """`render`, or `fallback` when there is no code or the catalogue no longer has it (a row
    written before the code existed, or by a site's own rule with free text)."""
    if not code or code not in TEXTS:
        return fallback
    return render(code, params, lang)


def pair(en: str | None, zh: str | None) -> dict[str, str | None]:
    """A parameter given in both languages by its source (a device model's fault text)."""
    return {"en": en, "zh": zh}


def word(code: str, fallback: str) -> dict[str, str]:
    """A parameter that is itself a text of the catalogue (a device type, a refusal reason)."""
    return {"code": code, "fallback": fallback}


def marker(code: str | None, params: Params | None, fallback: str) -> Any:
    """A text left unrendered in an answer's data until `localize` knows the reader; plain
    `fallback` when there is no code."""
    if not code:
        return fallback
    return {"$text": code, "params": dict(params or {}), "fallback": fallback}


def actor_marker(actor: str | None) -> Any:
    """Who did a step, left for `localize` to put in words (None stays None)."""
    return None if actor is None else {"$actor": actor}


def localize(data: Any, lang: str) -> Any:
    """`data` (JSON-like) with every `marker` (and `actor_marker`) rendered in `lang`."""
    if isinstance(data, dict):
        if "$actor" in data:
            return actor_text(data["$actor"], lang)
        if "$text" in data:
            return render_or(data["$text"], data.get("params"), lang,
                             str(data.get("fallback", "")))
        return {k: localize(v, lang) for k, v in data.items()}
    if isinstance(data, list):
        return [localize(v, lang) for v in data]
    return data


def actor_text(actor: str | None, lang: str) -> str:
    """Who did a step, for people: a username as it is; the hub itself, or one of its rules,
    in words (`system:rule:device-fault` -> 系统（规则：设备故障）)."""
    if not actor:
        return ""
    if actor == "system":
        return render("actor.system", None, lang)
    head, _, rest = actor.partition(":")
    if head == "rule" and rest:
        return render("actor.rule", {"rule": word(f"rule.{rest}", rest)}, lang)
    if head == "system" and rest:
        kind, _, name = rest.partition(":")
        if kind == "rule" and name:
            return render("actor.system_rule", {"rule": word(f"rule.{name}", name)}, lang)
        return render("actor.system_source", {"source": word(f"actor.source.{rest}", rest)},
                      lang)
    return actor


__all__ = ["Params", "TextError", "actor_marker", "actor_text", "fields_of", "localize", "marker", "pair",
           "render", "render_or", "word"]
