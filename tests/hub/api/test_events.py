"""The access log's filters and keyset paging; the dead letters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api.core.paging import encode_cursor
from hub.models import AccessEvent, Building, DeadLetter, EventLog
from tests.hub.api.conftest import problem_fields
from wire import new_event_id

Client = TestClient[Any, Any]
URL = "/api/v1/access-events"
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
async def events(sessions: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
    """120 events; every 3 share a timestamp, so ties are broken by id."""
    rows = []
    for i in range(120):
        granted = i % 4 != 0
        rows.append(
            {
                "id": new_event_id(),
                "site_id": "sunrise",
                "edge": "edge-b1",
                "door": "B1-main" if i % 2 else "B1-garage",
                "ts": T0 + timedelta(seconds=i // 3),
                "credential_type": "card",
                "credential": str(1000 + i),
                "resident_id": i % 5 or None,
                "result": "granted" if granted else "denied",
                "reason": "granted" if granted else "unknown_card",
                "decision_us": 100 + i,
            }
        )
    async with sessions() as session, session.begin():
        for r in rows:
            session.add(
                EventLog(
                    id=r["id"],
                    kind="access",
                    site_id=r["site_id"],
                    edge=r["edge"],
                    device="reader-1",
                    seq=r["decision_us"],
                    ts=r["ts"],
                    data={},
                )
            )
        await session.flush()
        session.add_all([AccessEvent(**r) for r in rows])
    return rows


def newest_first(rows: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in sorted(rows, key=lambda r: (r["ts"], r["id"]), reverse=True)]


async def pages(client: Client, auth: dict[str, str], query: str) -> list[list[dict[str, Any]]]:
    out, cursor = [], None
    while True:
        url = f"{URL}?{query}" + (f"&cursor={cursor}" if cursor else "")
        resp = await client.get(url, headers=auth)
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        out.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return out
        assert len(out) < 100


async def test_keyset_pages_cover_everything_once_in_order(
    client: Client, auth: dict[str, str], events: list[dict[str, Any]]
) -> None:
    got = await pages(client, auth, "limit=7")
    assert [len(p) for p in got] == [7] * 17 + [1]
    ids = [item["id"] for page in got for item in page]
    assert ids == newest_first(events)  # nothing missing, nothing twice, stable order
    first = got[0][0]
    latest = max(events, key=lambda r: (r["ts"], r["id"]))
    assert first == {
        "id": latest["id"],
        "ts": latest["ts"].isoformat().replace("+00:00", "Z"),
        "site": "sunrise",
        "edge": "edge-b1",
        "door": latest["door"],
        "door_name": {"B1-main": "Main entrance", "B1-garage": "Garage"}[latest["door"]],
        "credential_type": "card",
        "credential": latest["credential"],
        "resident_id": latest["resident_id"],
        "person": None,  # no such residents in this registry
        "person_kind": None,
        "person_resident_id": None,
        "result": latest["result"],
        "reason": latest["reason"],
        "decision_us": latest["decision_us"],
        "malformed": None,  # the edge flagged nothing (issue 14.4)
    }


async def test_default_page_and_exact_fit(
    client: Client, auth: dict[str, str], events: list[dict[str, Any]]
) -> None:
    resp = await client.get(URL, headers=auth)
    body = await resp.json()
    assert len(body["items"]) == 50 and body["next_cursor"]
    got = await pages(client, auth, "limit=40")
    assert [len(p) for p in got] == [40, 40, 40]  # the last page knows it is the last


async def test_filters(client: Client, auth: dict[str, str], events: list[dict[str, Any]]) -> None:
    async def ids(query: str) -> list[str]:
        return [i["id"] for page in await pages(client, auth, query) for i in page]

    assert await ids("door=B1-main&limit=500") == newest_first(
        [e for e in events if e["door"] == "B1-main"]
    )
    assert await ids("result=denied&limit=9") == newest_first(
        [e for e in events if e["result"] == "denied"]
    )
    assert await ids("reason=unknown_card") == newest_first(
        [e for e in events if e["reason"] == "unknown_card"]
    )
    assert await ids("resident_id=3&door=B1-garage") == newest_first(
        [e for e in events if e["resident_id"] == 3 and e["door"] == "B1-garage"]
    )
    since, until = T0 + timedelta(seconds=10), T0 + timedelta(seconds=20)
    window = [e for e in events if since <= e["ts"] < until]
    assert len(window) == 30
    # an unencoded "+" turns into a space in a query string; the API puts it back
    plain = f"since={since.isoformat()}&until={until.isoformat()}&limit=4"
    encoded = f"since={quote(since.isoformat())}&until={quote(until.isoformat())}&limit=4"
    assert await ids(plain) == await ids(encoded) == newest_first(window)
    assert await ids("site=moonbay") == []


async def test_building_and_credential_filters(
    client: Client, auth: dict[str, str], events: list[dict[str, Any]],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        buildings = dict((await session.execute(select(Building.code, Building.id))).all())

    async def ids(query: str) -> list[str]:
        return [i["id"] for page in await pages(client, auth, query) for i in page]

    # every fixture event is at edge-b1, the edge of building B1 in sunrise
    assert await ids(f"building={buildings['B1']}&limit=500") == newest_first(events)
    assert await ids(f"building={buildings['M1']}") == []
    assert await ids(f"building={buildings['B1']}&result=denied&limit=7") == newest_first(
        [e for e in events if e["result"] == "denied"]
    )
    assert await ids("credential=1007") == newest_first(
        [e for e in events if e["credential"] == "1007"]
    )
    assert await ids("building=999999") == []  # unknown: matches nothing, like a door


async def test_a_malformed_credential_is_flagged_and_filtered(
    client: Client, auth: dict[str, str], events: list[dict[str, Any]],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Issue 14: an event the edge had to cut to fit says so in the log, else the cut
    credential would pass for the one read."""
    note = "credential: 140 characters cut to 128 (sha256 of the whole: " + "ab" * 32 + ")"
    cut = {**events[0], "id": new_event_id(), "ts": T0 + timedelta(hours=1),
           "credential": "1234567890" * 12 + "12345678", "resident_id": None, "malformed": note}
    async with sessions() as session, session.begin():
        session.add(EventLog(id=cut["id"], kind="access", site_id="sunrise", edge="edge-b1",
                             device="reader-1", seq=10**6, ts=cut["ts"], data={}))
        await session.flush()
        session.add(AccessEvent(**cut))

    newest = (await (await client.get(f"{URL}?limit=2", headers=auth)).json())["items"]
    assert [(e["id"], e["credential"], e["malformed"]) for e in newest] == [
        (cut["id"], cut["credential"], note), (newest_first(events)[0], newest[1]["credential"], None)]
    flagged = await pages(client, auth, "malformed=true&limit=1")
    assert [[e["id"] for e in page] for page in flagged] == [[cut["id"]]]
    plain = [e["id"] for page in await pages(client, auth, "malformed=false&limit=500") for e in page]
    assert plain == newest_first(events)
    assert await pages(client, auth, "malformed=true&result=granted") == [[]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("cursor=garbage!!", "cursor"),
        ("cursor=" + encode_cursor(T0, 5), "cursor"),  # a dead-letter cursor is not an event cursor
        ("cursor=W10", "cursor"),  # base64 of "[]"
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("since=2025-03-01T08:00:00", "since"),  # no zone
        ("result=maybe", "result"),
        ("reason=bribed", "reason"),
        ("colour=red", "colour"),
        ("building=0", "building"),
        ("credential=", "credential"),
        ("malformed=maybe", "malformed"),
    ],
)
async def test_bad_query_names_the_field(
    client: Client, auth: dict[str, str], query: str, field: str
) -> None:
    resp = await client.get(f"{URL}?{query}", headers=auth)
    assert resp.status == 422
    assert problem_fields(await resp.json()) == [field]


async def test_dead_letters_newest_first_text_or_base64(
    client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        for i in range(5):
            payload = b"\xff\xfe binary" if i == 4 else f'{{"n": {i}}}'.encode()
            session.add(
                DeadLetter(
                    received_at=T0 + timedelta(seconds=i // 2),
                    topic=f"t/{i}",
                    payload=payload,
                    reason=f"reason {i}",
                )
            )
    resp = await client.get("/api/v1/dead-letters?limit=3", headers=auth)
    first = await resp.json()
    resp = await client.get(
        f"/api/v1/dead-letters?limit=3&cursor={first['next_cursor']}", headers=auth
    )
    second = await resp.json()
    assert second["next_cursor"] is None
    items = first["items"] + second["items"]
    assert [i["topic"] for i in items] == ["t/4", "t/3", "t/2", "t/1", "t/0"]
    assert items[0]["payload_encoding"] == "base64"
    assert items[0]["payload"] == "//4gYmluYXJ5"
    assert items[1] == {
        "id": items[1]["id"],
        "received_at": "2025-03-01T08:00:01Z",
        "topic": "t/3",
        "payload": '{"n": 3}',
        "payload_encoding": "utf-8",
        "reason": "reason 3",
    }
