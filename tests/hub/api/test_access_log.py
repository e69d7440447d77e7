"""The access log as a guard reads it: the door's name, the person (resident, the owner of a
refused card, the visitor of a pass), a name search, and the CSV export of every match."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api.access import log as events_api
from hub.models import AccessEvent, CardCredential, EventLog, Resident, VisitorPass
from wire import new_event_id

Client = TestClient[Any, Any]
URL = "/api/v1/access-events"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def _add_access(session: AsyncSession, *, seq: int, ts: datetime, credential: str,
                      site: str = "sunrise", edge: str = "edge-b1", door: str = "B1-main",
                      credential_type: str = "card", resident_id: int | None = None,
                      result: str = "granted", reason: str = "granted") -> str:
    """One access event as the ingest stores it: its log row, then its access row (the access
    row's id refers to the log's). Returns the event id."""
    event_id = new_event_id()
    session.add(EventLog(id=event_id, kind="access", site_id=site, edge=edge, device="r",
                         seq=seq, ts=ts, data={}))
    await session.flush()
    session.add(AccessEvent(id=event_id, site_id=site, edge=edge, door=door, ts=ts,
                            credential_type=credential_type, credential=credential,
                            resident_id=resident_id, result=result, reason=reason,
                            decision_us=100))
    return event_id


@pytest.fixture
async def log(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """张伟 (card 1001, suspended card 1002), a visitor pass for 王芳, and events: 张伟 let in,
    his suspended card refused (the edge names nobody), the pass used, a stranger's card."""
    async with sessions() as session, session.begin():
        zhang = Resident(site_id="sunrise", unit_id=101, name="张伟")
        other = Resident(site_id="moonbay", unit_id=901, name="张伟强")
        session.add_all([zhang, other])
        await session.flush()
        session.add_all([
            CardCredential(site_id="sunrise", resident_id=zhang.id, card_number="1001"),
            CardCredential(site_id="sunrise", resident_id=zhang.id, card_number="1002",
                           status="suspended"),
            CardCredential(site_id="moonbay", resident_id=other.id, card_number="7001"),
        ])
        vp = VisitorPass(site_id="sunrise", unit_id=101, visitor_name="王芳",
                         visitor_phone="13800000000", valid_from=T0,
                         valid_until=T0 + timedelta(hours=4), max_uses=2, uses=1,
                         status="active", share_code="s" * 32)
        session.add(vp)
        await session.flush()
        rows = [
            ("sunrise", "B1-main", "card", "1001", zhang.id, "granted", "granted"),
            ("sunrise", "B1-garage", "card", "1002", None, "denied", "suspended"),
            ("sunrise", "B1-main", "visitor_pass", f"pass:{vp.id}", None, "granted", "granted"),
            ("sunrise", "B1-main", "card", "=cmd()", None, "denied", "unknown_card"),
            ("moonbay", "M1-main", "card", "7001", other.id, "granted", "granted"),
        ]
        ids = [await _add_access(
            session, seq=i, ts=T0 + timedelta(minutes=i), site=site,
            edge="edge-b1" if site == "sunrise" else "edge-m1", door=door, credential_type=ctype,
            credential=cred, resident_id=rid, result=result, reason=reason)
            for i, (site, door, ctype, cred, rid, result, reason) in enumerate(rows)]
        found = {"zhang": zhang.id, "pass": vp.id, "ids": ids}
    return found


async def test_rows_name_the_door_and_the_person(client: Client, auth: dict[str, str],
                                                 log: dict[str, Any]) -> None:
    page = await (await client.get(URL, headers=auth, params={"site": "sunrise"})).json()
    got = [(e["door"], e["door_name"], e["person"], e["person_kind"], e["result"])
           for e in page["items"]]
    assert got == [
        ("B1-main", "Main entrance", None, None, "denied"),  # nobody knows that card
        ("B1-main", "Main entrance", "王芳", "visitor", "granted"),  # not "pass:1"
        ("B1-garage", "Garage", "张伟", "resident", "denied"),  # his suspended card
        ("B1-main", "Main entrance", "张伟", "resident", "granted"),
    ]
    refused = page["items"][2]
    assert refused["resident_id"] is None and refused["person_resident_id"] == log["zhang"]


async def test_a_name_search_finds_residents_their_cards_and_visitors(
        client: Client, auth: dict[str, str], log: dict[str, Any]) -> None:
    async def search(q: str, **more: str) -> list[str]:
        resp = await client.get(URL, headers=auth, params={"site": "sunrise", "q": q, **more})
        assert resp.status == 200, await resp.text()
        return [e["credential"] for e in (await resp.json())["items"]]

    assert await search("张伟") == ["1002", "1001"]  # moonbay's 张伟强 is another site
    assert await search("王") == [f"pass:{log['pass']}"]
    assert await search("1001") == ["1001"]
    assert await search("张伟", result="denied") == ["1002"]
    assert await search("%") == [] and await search("_") == []  # wildcards are letters here
    resp = await client.get(URL, headers=auth, params={"q": "x" * 65})
    assert resp.status == 422


async def test_a_name_search_in_a_site_looks_only_at_its_people(
        client: Client, auth: dict[str, str], log: dict[str, Any],
        sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch) -> None:
    """An admin's search with a site: the other sites' namesakes (earlier ids) must not fill
    the match list and crowd out the site's own (a fleet has millions of residents)."""
    monkeypatch.setattr(events_api, "_MAX_MATCHES", 3)
    async with sessions() as session, session.begin():
        session.add_all(Resident(site_id="moonbay", unit_id=901, name=f"李娜{i}") for i in range(3))
        await session.flush()
        li = Resident(site_id="sunrise", unit_id=101, name="李娜")
        session.add(li)
        await session.flush()
        await _add_access(session, seq=99, ts=T0, credential="2001", resident_id=li.id)
    resp = await client.get(URL, headers=auth, params={"site": "sunrise", "q": "李娜"})
    assert resp.status == 200, await resp.text()
    assert [e["person"] for e in (await resp.json())["items"]] == ["李娜"]


async def test_the_csv_export_holds_every_match(client: Client, auth: dict[str, str],
                                                log: dict[str, Any],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_api, "_EXPORT_BATCH", 2)  # the batches join up
    resp = await client.get(URL, headers=auth, params={"site": "sunrise", "format": "csv"})
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    text = (await resp.read()).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    assert [(r["Door name"], r["Person"], r["Reason"]) for r in rows] == [
        ("Main entrance", "", "unknown card"), ("Main entrance", "王芳", "granted"),
        ("Garage", "张伟", "suspended"), ("Main entrance", "张伟", "granted")]
    assert rows[1]["Resident or visitor"] == "visitor"
    assert rows[0]["Credential"] == "'=cmd()"  # not a formula in a spreadsheet
    assert [r["Event id"] for r in rows] == list(reversed(log["ids"][:4]))
    filtered = await client.get(URL, headers={**auth, "Accept-Language": "zh-CN,zh;q=0.9"},
                                params={"format": "csv", "result": "denied", "site": "sunrise"})
    denied = list(csv.DictReader(io.StringIO((await filtered.read()).decode().lstrip("\ufeff"))))
    assert [(r["门名称"], r["结果"], r["原因"]) for r in denied] == [
        ("Main entrance", "拒绝", "未登记的卡"), ("Garage", "拒绝", "已停用")]


async def test_only_a_pass_of_the_events_site_named_exactly_names_a_visitor(
        client: Client, auth: dict[str, str], log: dict[str, Any],
        sessions: async_sessionmaker[AsyncSession]) -> None:
    """The names are looked up in the page's own statement (pass:<digits> parsed there):
    anything but the digits of a pass of the event's site names nobody, a door missing from
    the registry has no name, and a leading zero is still the pass's number."""
    async with sessions() as session, session.begin():
        elsewhere = VisitorPass(site_id="moonbay", unit_id=901, visitor_name="刘洋",
                                visitor_phone="13900000000", valid_from=T0,
                                valid_until=T0 + timedelta(hours=4), max_uses=2, uses=0,
                                status="active", share_code="m" * 32)
        session.add(elsewhere)
        await session.flush()
        pass_id, other_pass = log["pass"], elsewhere.id
        credentials = [f"pass:{other_pass}", f"pass:{pass_id}x", "pass:", f"pass:0{pass_id}",
                       "pass:1234567890", f"Pass:{pass_id}", f"pass:-{pass_id}"]
        for i, credential in enumerate(credentials):
            await _add_access(session, seq=100 + i, ts=T0 + timedelta(hours=1, minutes=i),
                              door="B1-gone" if i == 0 else "B1-main",
                              credential_type="visitor_pass", credential=credential,
                              result="denied", reason="unknown_card")
    resp = await client.get(URL, headers=auth, params={
        "site": "sunrise", "since": (T0 + timedelta(hours=1)).isoformat()})
    assert resp.status == 200, await resp.text()
    got = {e["credential"]: (e["door_name"], e["person"], e["person_kind"],
                             e["person_resident_id"]) for e in (await resp.json())["items"]}
    assert got == {
        f"pass:{other_pass}": (None, None, None, None),  # moonbay's pass, sunrise's door
        f"pass:{pass_id}x": ("Main entrance", None, None, None),
        "pass:": ("Main entrance", None, None, None),
        f"pass:0{pass_id}": ("Main entrance", "王芳", "visitor", None),
        "pass:1234567890": ("Main entrance", None, None, None),  # past the id column
        f"Pass:{pass_id}": ("Main entrance", None, None, None),
        f"pass:-{pass_id}": ("Main entrance", None, None, None),
    }


async def test_a_search_pages_newest_first_through_the_windows_it_looks_back_in(
        client: Client, auth: dict[str, str], log: dict[str, Any],
        sessions: async_sessionmaker[AsyncSession]) -> None:
    """A name search looks in the last month, then three months, a year, then the whole log
    (a full page in a window holds the newest); the pages are the same as one look's."""
    now = datetime.now(UTC)
    ages = [2, 20, 50, 200, 500, 900]  # days
    async with sessions() as session, session.begin():
        zhao = Resident(site_id="sunrise", unit_id=101, name="赵敏")
        session.add(zhao)
        await session.flush()
        for seq, days in enumerate(ages, start=100):
            await _add_access(session, seq=seq, ts=now - timedelta(days=days),
                              credential=f"9{seq}", resident_id=zhao.id)

    async def pages(limit: int, **more: str) -> list[list[str]]:
        got: list[list[str]] = []
        params = {"site": "sunrise", "q": "赵敏", "limit": str(limit), **more}
        while True:
            resp = await client.get(URL, headers=auth, params=params)
            assert resp.status == 200, await resp.text()
            body = await resp.json()
            got.append([e["credential"] for e in body["items"]])
            if body["next_cursor"] is None:
                return got
            params["cursor"] = body["next_cursor"]

    newest_first = [f"9{seq}" for seq in range(100, 106)]
    assert await pages(2) == [newest_first[0:2], newest_first[2:4], newest_first[4:6]]
    assert await pages(4) == [newest_first[0:4], newest_first[4:6]]
    assert await pages(10) == [newest_first]
    since = (now - timedelta(days=300)).isoformat()
    assert await pages(2, since=since) == [newest_first[0:2], newest_first[2:4]]
