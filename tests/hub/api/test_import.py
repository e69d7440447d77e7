"""CSV import of units and residents: all rows or none, each problem by line and column."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.hub.api.conftest import count
from tests.hub.api.world import ID_NUMBER

Client = TestClient[Any, Any]

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]  # SQLite and PostgreSQL
API = "/api/v1"

UNITS = (
    "building,number,floor,area,status\n"
    "B1,201,2,89.5,occupied\n"
    "B1,202,2,,rented\n"
    "\n"  # blank lines are skipped
    "B1,301,3,120,\n"
)
RESIDENTS = (
    "building,unit,name,type,phone,id_number\n"
    f"B1,201,张伟,owner,13800000001,{ID_NUMBER}\n"
    "B1,201,王芳,family_member,,\n"
    'B1,202,"欧阳, 娜娜",tenant,+86 138 0000 0003,E12345678\n'
)


async def _post(
    client: Client, auth: dict[str, str], path: str, text: str | bytes, query: str = ""
) -> tuple[int, Any]:
    data = text.encode() if isinstance(text, str) else text
    resp = await client.post(
        f"{API}{path}?site_id=sunrise{query}",
        data=data,
        headers={**auth, "Content-Type": "text/csv; charset=utf-8"},
    )
    return resp.status, await resp.json()


async def test_a_good_file_goes_in_whole(
    client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    # Excel saves "CSV UTF-8" with a byte order mark
    status, body = await _post(client, auth, "/import/units", "\ufeff" + UNITS)
    assert (status, body) == (200, {"dry_run": False, "rows": 3, "created": 3})
    resp = await client.get(f"{API}/units?site_id=sunrise", headers=auth)
    units = {u["number"]: u for u in (await resp.json())["items"]}
    assert units["201"]["floor"] == 2 and units["201"]["area"] == 89.5
    assert units["201"]["status"] == "occupied" and units["202"]["status"] == "rented"
    assert units["301"]["status"] == "vacant" and units["202"]["area"] is None

    status, body = await _post(client, auth, "/import/residents", RESIDENTS)
    assert (status, body) == (200, {"dry_run": False, "rows": 3, "created": 3})
    resp = await client.get(f"{API}/residents?site_id=sunrise", headers=auth)
    people = {r["name"]: r for r in (await resp.json())["items"]}
    assert set(people) == {"张伟", "王芳", "欧阳, 娜娜"}
    assert people["张伟"]["id_number"] == ID_NUMBER  # the admin reads it in full
    assert people["张伟"]["type"] == "owner" and people["王芳"]["type"] == "family_member"
    # the two of unit 201 share its household, made by the import
    assert people["张伟"]["household_id"] == people["王芳"]["household_id"] is not None
    assert people["欧阳, 娜娜"]["household_id"] != people["张伟"]["household_id"]
    assert people["欧阳, 娜娜"]["phone"] == "+86 138 0000 0003"
    assert (await count(sessions))["households"] == 2


async def test_a_file_with_errors_changes_nothing_and_says_where(
    client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _post(client, auth, "/import/units", UNITS)
    before = await count(sessions)
    bad = (
        "building,unit,name,type,phone,id_number\n"
        "B1,201,李雷,owner,13800000001,\n"  # fine
        "B1,999,韩梅梅,owner,,\n"  # no such unit
        "B1,201,,tenant,abc,\n"  # no name, bad phone
        "B1,202,张三,landlord,,110105194912310021\n"  # bad type, bad check digit
        f"B1,202,李四,,,{ID_NUMBER}\n"
        f"B1,202,王五,,,{ID_NUMBER}\n"  # the same ID number twice
        "B1,202,赵六\n"  # too few fields
    )
    status, body = await _post(client, auth, "/import/residents", bad)
    assert status == 422
    assert body["error"] == "import_rejected" and "nothing imported" in body["detail"]
    problems = [(p["line"], p["column"]) for p in body["rows"]]
    assert problems == [
        (3, "unit"),
        (4, "name"),
        (4, "phone"),
        (5, "type"),
        (5, "id_number"),
        (7, "id_number"),
        (8, ""),
    ]
    reasons = {(p["line"], p["column"]): p["reason"] for p in body["rows"]}
    assert "unknown unit 999" in reasons[(3, "unit")]
    assert "check digit" in reasons[(5, "id_number")]
    assert "also on line 6" in reasons[(7, "id_number")]
    assert "3 fields, the header has 6" in reasons[(8, "")]
    assert await count(sessions) == before  # not even the good row went in


async def test_header_problems_are_reported_on_line_1(client: Client, auth: dict[str, str]) -> None:
    status, body = await _post(
        client, auth, "/import/units", "building,numero,floor,floor\nB1,1,1,1\n"
    )
    assert status == 422
    assert [(p["line"], p["column"]) for p in body["rows"]] == [
        (1, "floor"),
        (1, "numero"),
        (1, "number"),
    ]
    assert "unknown column" in body["rows"][1]["reason"]
    status, body = await _post(client, auth, "/import/units", "building,number\n")
    assert status == 422 and body["rows"][0]["reason"] == "no data rows after the header"
    status, body = await _post(client, auth, "/import/units", "")
    assert status == 422 and "empty" in body["rows"][0]["reason"]


async def test_units_already_there_or_twice_in_the_file(
    client: Client, auth: dict[str, str]
) -> None:
    text = "building,number\nB1,101\nB1,501\nB1,501\nB9,1\n"
    status, body = await _post(client, auth, "/import/units", text)
    assert status == 422
    assert [(p["line"], p["column"], p["reason"]) for p in body["rows"]] == [
        (2, "number", "unit 101 of B1 already exists"),
        (4, "number", "unit 501 of B1 is also on line 3"),
        (5, "building", "unknown building 'B9' in 'sunrise'"),
    ]


async def test_not_utf8_is_refused_with_its_line(
    client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    before = await count(sessions)
    gbk = b"building,number\nB1,601\nB1,602\n" + "张".encode("gbk") + b"\n"
    status, body = await _post(client, auth, "/import/units", gbk)
    assert status == 422
    assert body["rows"][0]["line"] == 4 and "not UTF-8" in body["rows"][0]["reason"]
    assert await count(sessions) == before


async def test_dry_run_checks_and_changes_nothing(
    client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    before = await count(sessions)
    status, body = await _post(client, auth, "/import/units", UNITS, "&dry_run=true")
    assert (status, body) == (200, {"dry_run": True, "rows": 3, "created": 3})
    status, body = await _post(client, auth, "/import/residents", RESIDENTS, "&dry_run=true")
    assert status == 422  # the units are not there: the dry run says so
    assert {p["column"] for p in body["rows"]} == {"unit"}
    assert await count(sessions) == before


async def test_multipart_upload_and_wrong_content_type(
    client: Client, auth: dict[str, str]
) -> None:
    form = aiohttp.FormData()
    form.add_field("file", UNITS.encode(), filename="units.csv", content_type="text/csv")
    resp = await client.post(f"{API}/import/units?site_id=sunrise", data=form, headers=auth)
    assert resp.status == 200 and (await resp.json())["created"] == 3
    resp = await client.post(f"{API}/import/units?site_id=sunrise", json={"rows": []}, headers=auth)
    assert resp.status == 400
    assert "text/csv or multipart/form-data" in (await resp.json())["detail"]
    resp = await client.post(
        f"{API}/import/units?site_id=atlantis",
        data=b"building,number\nB1,1\n",
        headers={**auth, "Content-Type": "text/csv"},
    )
    assert resp.status == 422 and "unknown site" in await resp.text()


async def test_a_refused_file_reads_in_chinese_naming_the_column(
    client: Client, auth: dict[str, str]
) -> None:
    """Issue 16: the Chinese console showed pydantic's English ("Input should be 'owner',
    'tenant' or 'family_member'", a regular expression); each problem now has its words."""
    await _post(client, auth, "/import/units", UNITS)
    bad = ("building,unit,name,type,phone,id_number\n"
           "B1,201,张三,landlord,abc,110105194912310021\n"
           "B1,999,李四,,,\n")
    resp = await client.post(
        f"{API}/import/residents?site_id=sunrise", data=bad.encode(),
        headers={**auth, "Content-Type": "text/csv", "Accept-Language": "zh-CN"})
    assert resp.status == 422
    body = await resp.json()
    assert [(p["line"], p["column"], p["message"]) for p in body["rows"]] == [
        (2, "type", "类型：必须是以下之一：owner（业主）、tenant（租户）、family_member（家属）"),
        (2, "phone", "电话：格式不正确"),
        (2, "id_number", "证件号：18 位身份证号的校验位不正确"),
        (3, "unit", "房屋：楼栋 B1 没有房屋 999"),
    ]
    assert body["rows"][0]["reason"].startswith("Input should be 'owner'")  # for programs
