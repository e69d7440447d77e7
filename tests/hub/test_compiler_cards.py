"""The compiler's fast credential constructor builds what pydantic's model_construct builds."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.compiler.compile import _card
from wire import CardCredential


def test_fast_card_equals_model_construct() -> None:
    fields = {"card": "1001", "resident_id": 7, "status": "lost",
              "valid_from": datetime(2026, 1, 1, tzinfo=UTC), "valid_until": None, "groups": [1, 3],
              "floors": [-1, 12]}
    fast, slow = _card(dict(fields)), CardCredential.model_construct(**fields)
    assert fast == slow
    assert fast.model_dump_json() == slow.model_dump_json()
    assert fast.model_fields_set == slow.model_fields_set == set(fields)
    assert CardCredential.model_validate(fast.model_dump()) == fast
