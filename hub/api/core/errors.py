"""The API's own errors: raised by views, turned into HTTP answers once, in `middleware`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from hub.texts import TEXTS, word
from hub.texts.validation import problem_message, reason_text


def thing_word(what: str) -> dict[str, str]:
    """A kind of record as a text parameter (`thing.<what>` of hub/texts): 门卡, "card"."""
    return word(f"thing.{what.replace(' ', '_')}", what)


def listing(*parts: tuple[str, Sequence[object]]) -> dict[str, str]:
    """What still holds a record, as a text parameter in both languages: `listing(("unit",
    [101, 102]), ("edge gateway", ["b1"]))` -> "unit 101, 102; edge b1" / "房屋 101、102；…";
    empty parts are left out."""
    en, zh = [], []
    for what, items in parts:
        if not items:
            continue
        key = f"thing.{what.replace(' ', '_')}"
        names = TEXTS.get(key, (what, what))
        en.append(f"{names[0]} {', '.join(map(str, items))}")
        zh.append(f"{names[1]} {'、'.join(map(str, items))}")
    return {"en": "; ".join(en), "zh": "；".join(zh)}


_NAMED = re.compile(r"^([a-z][a-z0-9_]*): (.+)$", re.DOTALL)


@dataclass(frozen=True)
class FieldProblem:
    field: str
    reason: str  # in English, as it always was
    code: str | None = None  # the reason as a hub/texts code (people read it in their language)
    params: dict[str, Any] | None = None

    def message(self, lang: str) -> str:
        """`<field>: <reason>` for people, in `lang` (hub.texts.validation)."""
        if self.code is None:
            return f"{self.field}: {self.reason}"
        return problem_message(self.field, self.code, self.params or {}, lang)


class ApiError(Exception):
    """Base of every error the API answers deliberately; `status` and `code` shape the reply.
    `detail` is English; `text` (a hub/texts code and its parameters) is what people read,
    in their language, as the answer's `message`."""

    status = 500
    code = "internal"
    default_text: str | None = None

    def __init__(self, detail: str, text: tuple[str, dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.text = text or ((self.default_text, {}) if self.default_text else None)


class BadRequestError(ApiError):
    status = 400
    code = "bad_request"


class UnauthorizedError(ApiError):
    status = 401
    code = "unauthorized"
    default_text = "error.unauthorized"


class TooManyRequestsError(ApiError):
    """429: the client must wait `retry_after` seconds (sent as the Retry-After header)."""

    status = 429
    code = "too_many_requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, ("error.too_many_logins", {"s": retry_after}))
        self.retry_after = retry_after


class ForbiddenError(ApiError):
    status = 403
    code = "forbidden"
    default_text = "error.forbidden"


class UnavailableError(ApiError):
    status = 503
    code = "unavailable"


class NotFoundError(ApiError):
    status = 404
    code = "not_found"

    def __init__(self, what: str, key: object) -> None:
        super().__init__(f"{what} {key} not found", ("error.not_found", {
            "what": thing_word(what), "key": str(key)}))
        self.what = what
        self.key = key


class ConflictError(ApiError):
    status = 409
    code = "conflict"


class InvalidError(ApiError):
    """422: the request is well formed but names bad values; each problem names its field."""

    status = 422
    code = "validation"

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in problems))
        self.problems = problems

    @classmethod
    def one(cls, field: str, reason: str, code: str | None = None, **params: Any
            ) -> InvalidError:
        """One problem: `reason` in English, `code` (hub/texts) and `params` for people."""
        return cls([FieldProblem(field, reason, code, params)])

    @classmethod
    def unknown(cls, field: str, thing: str, key: object, reason: str | None = None
                ) -> InvalidError:
        """`field` names a `thing` that does not exist (or not for the caller): 未知的房屋：5."""
        return cls.one(field, reason or f"unknown {thing} {key}", "invalid.unknown",
                       what=thing_word(thing), key=str(key))

    @classmethod
    def from_pydantic(cls, exc: ValidationError) -> InvalidError:
        problems = []
        for err in exc.errors(include_url=False):
            field = ".".join(str(p) for p in err["loc"]) or "(body)"
            reason = err["msg"]
            if err["type"] == "extra_forbidden":
                reason = "unknown field"
            # pydantic prefixes our own ValueErrors; the field already says where
            reason = reason.removeprefix("Value error, ")
            code, params = reason_text(err)
            # a check across fields names the one it blames: "line_id: needs ..."
            named = _NAMED.match(reason)
            if named is not None and not err["loc"]:
                field, reason = named.group(1), named.group(2)
                if code == "invalid.other":
                    params = {"detail": reason}
            problems.append(FieldProblem(field, reason, code, params))
        return cls(problems)
