"""Hostile input: whatever arrives, a parser answers with a value or its own clear error —
never another exception, never a half-accepted message."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import wire
from wire import topics

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def valid_event() -> dict[str, Any]:
    event = wire.AccessEvent(
        id=wire.new_event_id(), ts=datetime.now(UTC), site="demo", edge="b1-edge",
        device="B1-main", seq=3,
        data=wire.AccessData(door="B1-main", credential="1001", result="granted",
                             reason="granted", decision_us=5),
    )
    return json.loads(event.model_dump_json())


@FAST
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_fail_with_a_reason(raw: bytes) -> None:
    try:
        event = wire.parse_event(raw)
    except wire.WireError as exc:
        assert exc.reason
    else:
        assert event.kind in topics.EVENT_KINDS


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    return out


@FAST
@given(st.data())
def test_a_mutated_event_is_either_valid_or_refused(data: st.DataObject) -> None:
    body = valid_event()
    path = data.draw(st.sampled_from(_paths(body)[1:]))
    replacement = data.draw(json_values)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = replacement
    raw = json.dumps(body)
    try:
        event = wire.parse_event(raw)
    except wire.WireError as exc:
        assert exc.reason
        return
    # accepted: then it is a whole, valid event that survives a round trip unchanged
    assert wire.parse_event(event.model_dump_json()) == event


@FAST
@given(st.text(max_size=80))
def test_any_topic_parses_or_fails_with_a_reason(topic: str) -> None:
    try:
        parts = topics.parse(topic)
    except wire.WireError as exc:
        assert exc.reason
    else:
        assert parts.channel in ("evt", "state", "perm", "config", "cmd", "cmd/ack")
        assert "+" not in parts.site and "#" not in parts.edge


@FAST
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_snapshots_commands_and_state_refuse_garbage(raw: bytes) -> None:
    for model in (wire.PermissionSnapshot, wire.EdgeCommand, wire.CommandAck, wire.EdgeState):
        try:
            model.model_validate_json(raw)
        except ValidationError as exc:
            assert exc.errors()


@FAST
@given(json_values)
def test_edge_config_refuses_with_a_key_path(raw: Any) -> None:
    from edge.config import parse_config
    from edge.errors import ConfigError

    try:
        parse_config(raw)
    except ConfigError as exc:
        assert str(exc).startswith("config: ")


@pytest.mark.parametrize("field", ["site", "edge", "device"])
def test_names_with_topic_wildcards_are_refused(field: str) -> None:
    for bad in ("a/b", "+", "#", "", "x" * 65, " lead"):
        body = valid_event()
        body[field] = bad
        with pytest.raises(wire.WireError, match=field):
            wire.parse_event(json.dumps(body))
