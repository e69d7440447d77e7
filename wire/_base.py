from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from wire.errors import WireError


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a time zone (UTC)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
# Identifiers that appear in topic names: no MQTT wildcards, separators or spaces.
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class WireModel(BaseModel):
    """Strict base: unknown keys are refused, values are never coerced across types."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


M = TypeVar("M", bound=BaseModel)


def describe(exc: ValidationError) -> str:
    """One line naming every bad field and why, e.g. `data.reason: Input should be ...`."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(message)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def parse_model(model: type[M], raw: bytes | str) -> M:
    """Parse one JSON message into `model` or raise WireError with the reason."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WireError(f"payload is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise WireError(f"invalid {model.__name__}: {describe(exc)}") from exc


def utcnow() -> datetime:
    return datetime.now(UTC)
