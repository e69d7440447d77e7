"""The hub serialises a snapshot's content once, for the hash and for the payload."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from tests.edge.access.snapshots import content
from wire import PermissionSnapshot
from wire.permissions import sealed_payload

ISSUED = datetime(2026, 11, 23, 8, 0, 0, 250000, tzinfo=UTC)


def test_sealed_payload_is_the_snapshot_build_makes() -> None:
    body = content()
    text = body.content_json()
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert digest == body.content_hash()
    parsed = PermissionSnapshot.model_validate_json(sealed_payload(text, 3, digest, ISSUED))
    assert parsed == PermissionSnapshot.build(body, 3, ISSUED)
    assert parsed.issued_at == ISSUED


def test_equal_content_hashes_equal_and_a_change_is_caught() -> None:
    assert content().content_hash() == content().content_hash()
    text = content().content_json()
    digest = hashlib.sha256(text.encode()).hexdigest()
    tampered = text.replace('"status":"revoked"', '"status":"active"', 1)
    assert tampered != text
    with pytest.raises(ValidationError, match="hash does not match"):
        PermissionSnapshot.model_validate_json(sealed_payload(tampered, 1, digest, ISSUED))
