"""The camera endpoints: edge uploads with their own token, retries, refusals, retention;
alerts listed with their snapshot links and paged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.api.cameras.routes import SnapshotPolicy
from hub.cameras.models import CameraAlert, Snapshot
from hub.cameras.store import SnapshotRetention
from hub.models import Edge, EventLog
from tests.hub.api.conftest import count

Client = TestClient[Any, Any]
JPEG = b"\xff\xd8\xff\xe0" + b"0" * 100
SNAP = "0190aaaa-0000-7000-8000-000000000001"
TOO_BIG = SnapshotPolicy().max_bytes  # the default limit, 5 MB


def upload_query(media_id: str = SNAP, kind: str = "snapshot", ts: str = "") -> str:
    ts = ts or datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return f"/api/v1/snapshots?id={media_id}&camera=cam1&kind={kind}&ts={ts}"


async def edge_token(client: Client, auth: dict[str, str], name: str = "edge-b1") -> str:
    resp = await client.get("/api/v1/edges", headers=auth)
    edge = next(e for e in (await resp.json())["items"] if e["name"] == name)
    resp = await client.post(f"/api/v1/edges/{edge['id']}/upload-token", headers=auth)
    assert resp.status == 201
    return str((await resp.json())["token"])


async def upload(client: Client, token: str, body: bytes = JPEG, query: str = "",
                 content_type: str = "image/jpeg") -> tuple[int, Any]:
    resp = await client.post(query or upload_query(), data=body, headers={
        "Authorization": f"Bearer {token}", "Content-Type": content_type})
    return resp.status, await resp.json()


async def test_an_edge_uploads_with_its_token_and_a_retry_changes_nothing(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    token = await edge_token(client, auth)
    status, stored = await upload(client, token)
    assert status == 201 and stored["created"] and stored["url"] == f"/api/v1/snapshots/{SNAP}"
    status, again = await upload(client, token)
    assert status == 200 and not again["created"]
    resp = await client.get(f"/api/v1/snapshots/{SNAP}", headers=auth)
    assert resp.status == 200 and resp.content_type == "image/jpeg"
    assert await resp.read() == JPEG
    async with sessions() as session:
        row = await session.get(Snapshot, SNAP)
        assert row is not None and (row.site_id, row.edge) == ("sunrise", "edge-b1")
        assert row.expires_at - row.ts == timedelta(days=30)


async def test_uploads_are_refused_with_a_reason_and_store_nothing(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    token = await edge_token(client, auth)
    before = await count(sessions, Snapshot)
    user_token = auth["Authorization"].split()[1]
    cases = [
        (await upload(client, user_token), 401),  # a user's token is not an edge's
        (await upload(client, "x" * 40), 401),
        (await upload(client, token, content_type="image/png"), 415),
        (await upload(client, token, body=b"GIF89a" + b"0" * 50), 415),
        (await upload(client, token, body=b"\xff\xd8\xff" + b"0" * TOO_BIG), 413),
        (await upload(client, token, query=upload_query("not-a-uuid")), 422),
        (await upload(client, token, query=upload_query(kind="clip")), 415),  # JPEG as a clip
    ]
    for (status, body), expected in cases:
        assert status == expected, body
        assert body["detail"]
    assert await count(sessions, Snapshot) == before
    # a new token revokes the old one
    await upload(client, token)
    newer = await edge_token(client, auth)
    assert (await upload(client, token, query=upload_query(SNAP[:-1] + "2")))[0] == 401
    # another edge cannot overwrite this edge's snapshot
    other = await edge_token(client, auth, "edge-m1")
    status, body = await upload(client, other)
    assert status == 409 and "another edge" in body["detail"]
    assert (await upload(client, newer))[0] == 200


async def test_expired_snapshots_are_deleted_and_no_longer_served(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    token = await edge_token(client, auth)
    old = (datetime.now(UTC) - timedelta(days=31)).isoformat().replace("+00:00", "Z")
    assert (await upload(client, token, query=upload_query(ts=old)))[0] == 201
    assert (await client.get(f"/api/v1/snapshots/{SNAP}", headers=auth)).status == 404
    fresh = SNAP[:-1] + "3"
    assert (await upload(client, token, query=upload_query(fresh)))[0] == 201
    async with SnapshotRetention(sessions, interval_s=3600) as retention:
        await retention.run_once()  # the task's own first run may have done it already
    assert retention.deleted == 1
    async with sessions() as session:
        assert list(await session.scalars(select(Snapshot.id))) == [fresh]


async def test_alerts_are_listed_newest_first_with_links_and_pages(
        client: Client, auth: dict[str, str], sessions: async_sessionmaker[AsyncSession]) -> None:
    token = await edge_token(client, auth)
    await upload(client, token)
    start = datetime(2026, 5, 1, 22, 0, tzinfo=UTC)
    async with sessions() as session, session.begin():
        edge = await session.scalar(select(Edge).where(Edge.name == "edge-b1"))
        assert edge is not None
        for n in range(5):
            event_id = f"0190bbbb-0000-7000-8000-00000000000{n}"
            session.add(EventLog(id=event_id, kind="camera", site_id="sunrise", edge="edge-b1",
                                 device="cam1", seq=n, ts=start + timedelta(minutes=n), data={}))
            await session.flush()
            session.add(CameraAlert(
                id=event_id, site_id="sunrise", edge="edge-b1", camera="cam1", event="motion",
                zone="roof" if n % 2 else "hall", area=0.1, ts=start + timedelta(minutes=n),
                snapshot_id=SNAP if n == 4 else SNAP[:-1] + "9"))
    resp = await client.get("/api/v1/camera-alerts?limit=2", headers=auth)
    page = await resp.json()
    assert [a["id"][-1] for a in page["items"]] == ["4", "3"]
    assert page["items"][0]["snapshot_available"] and not page["items"][1]["snapshot_available"]
    assert page["items"][0]["snapshot_url"] == f"/api/v1/snapshots/{SNAP}"
    resp = await client.get(f"/api/v1/camera-alerts?limit=2&cursor={page['next_cursor']}",
                            headers=auth)
    assert [a["id"][-1] for a in (await resp.json())["items"]] == ["2", "1"]
    resp = await client.get("/api/v1/camera-alerts?zone=roof&camera=cam1", headers=auth)
    assert [a["zone"] for a in (await resp.json())["items"]] == ["roof", "roof"]
    resp = await client.get("/api/v1/camera-alerts?cursor=nope", headers=auth)
    assert resp.status == 422
