"""A refused value, for people: pydantic's error types as hub/texts codes naming the field
(`访客电话：格式不正确` rather than "String should match pattern '^\\+?[0-9 -]{5,32}$'")."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hub.texts.catalogue import TEXTS
from hub.texts.render import render, word

_SIMPLE = {
    "missing": "invalid.missing", "extra_forbidden": "invalid.unknown_field",
    "string_pattern_mismatch": "invalid.pattern", "string_type": "invalid.text",
    "int_parsing": "invalid.integer", "int_type": "invalid.integer",
    "int_from_float": "invalid.integer", "float_parsing": "invalid.number",
    "float_type": "invalid.number", "decimal_parsing": "invalid.number",
    "bool_parsing": "invalid.boolean", "bool_type": "invalid.boolean",
    "date_parsing": "invalid.date", "date_type": "invalid.date",
    "date_from_datetime_parsing": "invalid.date", "datetime_parsing": "invalid.datetime",
    "datetime_type": "invalid.datetime", "datetime_from_date_parsing": "invalid.datetime",
    "timezone_aware": "invalid.timezone", "model_type": "invalid.object",
    "dict_type": "invalid.object", "model_attributes_type": "invalid.object",
    "list_type": "invalid.list", "json_invalid": "invalid.json",
}
_BOUNDS = {"greater_than": ("invalid.gt", "gt"), "greater_than_equal": ("invalid.ge", "ge"),
           "less_than": ("invalid.lt", "lt"), "less_than_equal": ("invalid.le", "le"),
           "string_too_short": ("invalid.too_short", "min_length"),
           "string_too_long": ("invalid.too_long", "max_length"),
           "too_short": ("invalid.too_few", "min_length"),
           "too_long": ("invalid.too_many", "max_length")}
_QUOTED = re.compile(r"'([^']*)'")


class Refusal(ValueError):
    """A validator's own refusal, with its words for people: `raise Refusal("invalid.x",
    "the English reason", n=3)` reads in the reader's language wherever it is shown."""

    def __init__(self, code: str, english: str, **params: Any) -> None:
        super().__init__(english)
        self.code = code
        self.params = params


def _choices(expected: str) -> dict[str, str]:
    """`'owner', 'tenant' or 'family_member'` -> the values, with their words in Chinese."""
    values = _QUOTED.findall(expected) or [expected]
    zh = [f"{v}（{TEXTS[f'value.{v}'][1]}）" if f"value.{v}" in TEXTS else v for v in values]
    return {"en": ", ".join(values), "zh": "、".join(zh)}


def reason_text(err: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A pydantic error (`ValidationError.errors()` item) as a code and its parameters."""
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if kind in _SIMPLE:
        return _SIMPLE[kind], {}
    if kind in _BOUNDS:
        code, key = _BOUNDS[kind]
        name = "limit" if code in ("invalid.gt", "invalid.ge", "invalid.lt", "invalid.le") else (
            "min" if "min" in key else "max")
        return code, {name: ctx.get(key, "-")}
    refusal = ctx.get("error")  # Refusal here, wire.errors.Refused in the contract's models
    refused = getattr(refusal, "code", None)
    if isinstance(refusal, ValueError) and isinstance(refused, str) and refused in TEXTS:
        return refused, dict(getattr(refusal, "params", {}))
    if kind in ("literal_error", "enum"):
        return "invalid.one_of", {"expected": _choices(str(ctx.get("expected", "")))}
    detail = str(err.get("msg", "")).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return "invalid.other", {"detail": detail}


def field_word(name: str) -> dict[str, str]:
    """A field's name as people call it (`visitor_phone` -> 访客电话), else the name itself."""
    return word(f"field_word.{name}", name)


def problem_message(field: str, code: str, params: Mapping[str, Any], lang: str) -> str:
    """`<field>: <reason>` in `lang`; a dotted path is named by its last part (`doors.0`:
    the list's name)."""
    parts = [p for p in field.split(".") if not p.isdigit()]
    name = parts[-1] if parts else field
    return render("invalid.field", {"field": field_word(name) if name else "-",
                                    "reason": {"code": code, "params": dict(params)}}, lang)


__all__ = ["Refusal", "field_word", "problem_message", "reason_text"]
