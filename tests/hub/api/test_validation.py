"""Every refused write answers 422 naming the field, and leaves the database as it was."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.hub.api.conftest import RecordingPublisher, count, problem_fields

Client = TestClient[Any, Any]
API = "/api/v1"


@pytest.fixture
async def fixtures(client: Client, auth: dict[str, str]) -> dict[str, int]:
    """A resident with a card, a schedule and a group in sunrise; a group in moonbay."""

    async def post(path: str, body: dict[str, Any]) -> int:
        resp = await client.post(API + path, json=body, headers=auth)
        assert resp.status == 201, await resp.text()
        return int((await resp.json())["id"])

    resident = await post("/residents", {"site_id": "sunrise", "name": "A"})
    return {
        "resident": resident,
        "card": await post(
            "/cards",
            {"resident_id": resident, "card_number": "7", "valid_from": "2025-01-01T00:00:00Z"},
        ),
        "schedule": await post(
            "/schedules",
            {
                "site_id": "sunrise",
                "name": "s",
                "windows": [{"days": [0], "start": "08:00", "end": "09:00"}],
            },
        ),
        "group": await post("/access-groups", {"site_id": "sunrise", "name": "g"}),
        "moon_group": await post("/access-groups", {"site_id": "moonbay", "name": "m"}),
    }


CASES: list[tuple[str, str, str, Any, str]] = [
    # (name, method, path, body, field named)
    (
        "bad card number",
        "POST",
        "/cards",
        {"resident_id": "{resident}", "card_number": "12ab"},
        "card_number",
    ),
    (
        "card number too long",
        "POST",
        "/cards",
        {"resident_id": "{resident}", "card_number": "1" * 21},
        "card_number",
    ),
    (
        "card number not a string",
        "POST",
        "/cards",
        {"resident_id": "{resident}", "card_number": 123},
        "card_number",
    ),
    (
        "facility code out of range",
        "POST",
        "/cards",
        {"resident_id": "{resident}", "card_number": "5", "facility_code": 70000},
        "facility_code",
    ),
    (
        "naive datetime",
        "POST",
        "/cards",
        {"resident_id": "{resident}", "card_number": "5", "valid_from": "2025-01-01T00:00:00"},
        "valid_from",
    ),
    (
        "until before from",
        "POST",
        "/cards",
        {
            "resident_id": "{resident}",
            "card_number": "5",
            "valid_from": "2025-02-01T00:00:00Z",
            "valid_until": "2025-01-01T00:00:00Z",
        },
        "valid_until",
    ),
    (
        "until before stored from",
        "PATCH",
        "/cards/{card}",
        {"valid_until": "2024-06-01T00:00:00Z"},
        "valid_until",
    ),
    ("unknown status", "PATCH", "/cards/{card}", {"status": "stolen"}, "status"),
    (
        "unknown resident",
        "POST",
        "/cards",
        {"resident_id": 999999, "card_number": "5"},
        "resident_id",
    ),
    (
        "unknown field",
        "POST",
        "/cards",
        {"resident_id": "{resident}", "card_number": "5", "colour": "red"},
        "colour",
    ),
    ("unknown field on patch", "PATCH", "/residents/{resident}", {"site_id": "moonbay"}, "site_id"),
    ("null name", "PATCH", "/residents/{resident}", {"name": None}, "name"),
    (
        "group from another site",
        "POST",
        "/residents",
        {"site_id": "sunrise", "name": "B", "groups": ["{moon_group}"]},
        "groups",
    ),
    (
        "group from another site on patch",
        "PATCH",
        "/residents/{resident}",
        {"groups": ["{group}", "{moon_group}"]},
        "groups",
    ),
    (
        "unit from another site",
        "POST",
        "/residents",
        {"site_id": "sunrise", "name": "B", "unit_id": 901},
        "unit_id",
    ),
    ("unknown site", "POST", "/residents", {"site_id": "atlantis", "name": "B"}, "site_id"),
    (
        "unknown door",
        "POST",
        "/access-groups",
        {"site_id": "sunrise", "name": "h", "doors": ["B1-main", "B9-back"]},
        "doors",
    ),
    ("door of another site", "PATCH", "/access-groups/{group}", {"doors": ["M1-main"]}, "doors"),
    (
        "schedule of another site",
        "POST",
        "/access-groups",
        {"site_id": "moonbay", "name": "h", "schedule_id": "{schedule}"},
        "schedule_id",
    ),
    (
        "window end before start",
        "POST",
        "/schedules",
        {
            "site_id": "sunrise",
            "name": "t",
            "windows": [{"days": [1], "start": "18:00", "end": "08:00"}],
        },
        "windows.0",
    ),
    (
        "window bad day",
        "PATCH",
        "/schedules/{schedule}",
        {"windows": [{"days": [7], "start": "08:00", "end": "09:00"}]},
        "windows.0.days",
    ),
    (
        "window bad time",
        "POST",
        "/schedules",
        {
            "site_id": "sunrise",
            "name": "t",
            "windows": [{"days": [1], "start": "8am", "end": "09:00"}],
        },
        "windows.0.start",
    ),
    (
        "no windows",
        "POST",
        "/schedules",
        {"site_id": "sunrise", "name": "t", "windows": []},
        "windows",
    ),
    ("body not an object", "POST", "/schedules", [1, 2], "(body)"),
]


def _fill(value: Any, ids: dict[str, int]) -> Any:
    if (
        isinstance(value, str)
        and value.startswith("{")
        and value.endswith("}")
        and value[1:-1] in ids
    ):
        return ids[value[1:-1]]
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    ("method", "path", "body", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_refused_with_the_field_named_and_nothing_changed(
    client: Client,
    auth: dict[str, str],
    sessions: async_sessionmaker[AsyncSession],
    publisher: RecordingPublisher,
    fixtures: dict[str, int],
    method: str,
    path: str,
    body: Any,
    field: str,
) -> None:
    before = await count(sessions)
    calls = list(publisher.calls)
    resp = await client.request(
        method, API + path.format(**fixtures), headers=auth, json=_fill(body, fixtures)
    )
    assert resp.status == 422, await resp.text()
    answer = await resp.json()
    assert field in problem_fields(answer), answer
    assert all(p["reason"] for p in answer["detail"])
    assert await count(sessions) == before
    assert publisher.calls == calls


async def test_malformed_json_is_400_and_changes_nothing(
    client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    before = await count(sessions)
    resp = await client.post(
        API + "/residents",
        data=b"{'site_id': 'sunrise'}",
        headers={**auth, "Content-Type": "application/json"},
    )
    assert resp.status == 400
    assert "not valid JSON" in (await resp.json())["detail"]
    resp = await client.post(API + "/residents", headers=auth)
    assert resp.status == 400
    assert await count(sessions) == before


async def test_reasons_are_readable(client: Client, auth: dict[str, str]) -> None:
    resp = await client.post(
        API + "/schedules",
        headers=auth,
        json={
            "site_id": "sunrise",
            "name": "t",
            "windows": [{"days": [1], "start": "18:00", "end": "08:00"}],
            "extra": 1,
        },
    )
    detail = {p["field"]: p["reason"] for p in (await resp.json())["detail"]}
    assert detail == {"windows.0": "end 08:00 is not after start 18:00", "extra": "unknown field"}
    resp = await client.post(
        API + "/access-groups",
        headers=auth,
        json={"site_id": "sunrise", "name": "h", "doors": ["B9-back"]},
    )
    assert (await resp.json())["detail"] == [
        {"field": "doors", "reason": "unknown door 'B9-back' in site 'sunrise'",
         "message": "doors: names no door there is: 'B9-back'"}
    ]


async def test_refusals_read_in_the_readers_language(client: TestClient[Any, Any],
                                                      auth: dict[str, str]) -> None:
    """Issue 16: a refused value reads for people in Chinese, naming the field (was pydantic's
    English, "String should match pattern ..."); `reason` stays English for programs."""
    resp = await client.post(
        API + "/schedules", headers={**auth, "Accept-Language": "zh-CN,zh;q=0.9"},
        json={"site_id": "sunrise", "name": "全 天", "windows": [], "extra": 1})
    assert resp.status == 422
    messages = {p["field"]: p["message"] for p in (await resp.json())["detail"]}
    assert messages == {"name": "名称：格式不正确", "windows": "时段：至少需要 1 项",
                        "extra": "extra：不是可识别的字段"}


_ENGLISH = re.compile(r"[A-Za-z]+")
# a value to type as it is, shown with its words: `active（有效）`
_VALUE_SHOWN = re.compile(r"[A-Za-z_]+（")


@pytest.mark.parametrize(
    ("method", "path", "body", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
async def test_every_refusal_reads_in_chinese(
    client: Client, auth: dict[str, str], fixtures: dict[str, int],
    method: str, path: str, body: Any, field: str,
) -> None:
    """Issue 16: the hub's own checks (an unknown unit, a window ending before it starts ...)
    read in the reader's language like pydantic's: no English word but what the request
    carried (a value, a field's name) and the codes."""
    sent = _fill(body, fixtures)
    resp = await client.request(method, API + path.format(**fixtures), json=sent,
                                headers={**auth, "Accept-Language": "zh-CN"})
    assert resp.status == 422, await resp.text()
    carried = set(_ENGLISH.findall(json.dumps(sent) + path))
    for problem in (await resp.json())["detail"]:
        english = [w for w in _ENGLISH.findall(_VALUE_SHOWN.sub("", problem["message"]))
                   if w not in carried and w not in ("YYYY", "MM", "DD")]
        assert not english, problem
