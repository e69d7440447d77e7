"""LED notice boards: the notices an edge's boards show (inside its signed configuration).

The hub sends each edge with boards the notices marked for boards whose scope holds the edge
(the site, or the edge's building), each with its Chinese and English text; the edge rotates
those valid now, so a notice leaves the boards at its expiry even with the hub unreachable."""

from __future__ import annotations

from pydantic import Field, model_validator

from wire._base import UtcDatetime, WireModel


class BoardNotice(WireModel):
    id: int = Field(ge=1, description="the hub's notice id")
    title_zh: str = Field(min_length=1, max_length=200)
    title_en: str = Field(min_length=1, max_length=200)
    body_zh: str = Field(default="", max_length=4000)
    body_en: str = Field(default="", max_length=4000)
    valid_from: UtcDatetime
    valid_until: UtcDatetime | None = None

    @model_validator(mode="after")
    def _window(self) -> BoardNotice:
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


__all__ = ["BoardNotice"]
