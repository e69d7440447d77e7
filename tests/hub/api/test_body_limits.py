"""A JSON body past the nesting depth or the size is refused with 400 before it is parsed: the
parser's recursion never runs out, nothing is logged as a crash, nothing changes."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api.core.middleware import MAX_JSON_BYTES, MAX_JSON_DEPTH, json_depth
from tests.hub.api.conftest import PASSWORD, count

Client = TestClient[Any, Any]
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(("raw", "depth"), [
    (b"", 0), (b"1", 0), (b'{"a": [1, {"b": 2}]}', 3), (b'["]]]", "[[[", "\\"["]', 1),
    (b'{"x": "\\\\"}', 1), (b'"unterminated [[[', 0), (DEEP, 100_000),
])
def test_depth_is_counted_outside_strings(raw: bytes, depth: int) -> None:
    assert json_depth(raw) == depth


async def test_a_deep_or_large_body_is_refused_before_parsing(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession],
        caplog: pytest.LogCaptureFixture) -> None:
    before = await count(sessions)
    too_deep = ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)).encode()
    too_big = json.dumps({"username": "admin", "password": "x" * MAX_JSON_BYTES}).encode()
    cases = [
        ("/api/v1/auth/login", DEEP, {}, "nests 100000 levels deep"),
        ("/api/v1/auth/login", too_deep, {}, f"nests {MAX_JSON_DEPTH + 1} levels deep"),
        ("/api/v1/auth/login", too_big, {}, f"at most {MAX_JSON_BYTES}"),
        ("/api/v1/holidays", DEEP, auth, "levels deep"),
        ("/api/v1/visitor-passes", b'{"visitor_name": ' + DEEP + b"}", auth, "levels deep"),
    ]
    with caplog.at_level(logging.INFO):
        for path, body, headers, says in cases:
            resp = await client.post(path, data=body, headers={
                **headers, "Content-Type": "application/json"})
            reply = await resp.json()
            assert resp.status == 400, (path, reply)
            assert reply["error"] == "bad_request" and says in reply["detail"], reply
        # sent in chunks, with no length declared up front
        async def chunks() -> Any:
            for _ in range(5):
                yield b'{"x": "' + b"y" * MAX_JSON_BYTES + b'"'
        resp = await client.post("/api/v1/auth/login", data=chunks(),
                                 headers={"Content-Type": "application/json"})
        assert resp.status == 400 and "at most" in (await resp.json())["detail"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert await count(sessions) == before
    # a body within the limits still works, nested as deep as allowed
    ok = await client.post("/api/v1/auth/login",
                           json={"username": "admin", "password": PASSWORD})
    assert ok.status == 200
    nested: Any = "x"
    for _ in range(MAX_JSON_DEPTH - 1):
        nested = [nested]
    resp = await client.post("/api/v1/auth/login", json={"username": "admin", "password": nested})
    assert resp.status == 422  # the model, not the limit, says what is wrong
