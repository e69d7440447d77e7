"""Camera alerts, their snapshots and clips, and the edges' snapshot uploads.

Who may look: admin, manager and guard (the security desk) within their site. Technicians
are left out on purpose: a camera's pictures show residents coming and going, and a tamper
work order tells them what they need (the fault code and text); residents never see them.

Edges upload with their own upload token (`Authorization: Bearer`), not a user's: an admin
issues one per edge with `POST /edges/{id}/upload-token` (shown once, stored hashed; a new
one revokes the old), and the edge's config carries it in `uploads.token`.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import select

from hub.api.cameras.schemas import (
    CameraAlertOut,
    CameraAlertPage,
    CameraAlertQuery,
    SnapshotStored,
    SnapshotUploadQuery,
    UploadTokenOut,
)
from hub.api.core.auth import COMPANY_ROLES, OPERATOR_ROLES, bearer_token
from hub.api.core.crud import visible
from hub.api.core.endpoints import EndpointTable, path_id
from hub.api.core.errors import ApiError, ConflictError, NotFoundError, UnauthorizedError
from hub.api.core.keys import SESSIONS
from hub.api.core.paging import newest_first, page_of
from hub.api.core.schemas import ErrorOut
from hub.api.core.scope import scope_of
from hub.api.core.store import reading
from hub.cameras.models import CameraAlert
from hub.cameras.models import Snapshot as SnapshotRow
from hub.cameras.store import edge_of_upload_token, expiry, issue_upload_token
from hub.models import Edge, utcnow

routes = EndpointTable(tag="cameras")
_CONTENT = {"snapshot": "image/jpeg", "clip": "video/mp4"}
_MAGIC = {"snapshot": (b"\xff\xd8\xff",), "clip": (b"ftyp",)}


@dataclass(frozen=True)
class SnapshotPolicy:
    retention_days: float = 30.0
    max_bytes: int = 5 * 1024 * 1024


SNAPSHOT_POLICY = web.AppKey("snapshot_policy", SnapshotPolicy)


class TooLargeError(ApiError):
    status = 413
    code = "too_large"


class UnsupportedMediaError(ApiError):
    status = 415
    code = "unsupported_media_type"


def _policy(app: web.Application) -> SnapshotPolicy:
    return app.get(SNAPSHOT_POLICY) or SnapshotPolicy()


def _media_url(media_id: str | None) -> str | None:
    return None if media_id is None else f"/api/v1/snapshots/{media_id}"


@routes.get("/camera-alerts", query=CameraAlertQuery, response=CameraAlertPage,
            roles=OPERATOR_ROLES)
async def list_camera_alerts(request: web.Request, query: CameraAlertQuery) -> CameraAlertPage:
    """Camera alerts of your site, newest first, each with its snapshot and clip links."""
    scope = scope_of(request)
    scope.claim_site(query.site)
    stmt = select(CameraAlert).where(scope.where(CameraAlert.site_id))
    for column, value in ((CameraAlert.site_id, query.site), (CameraAlert.edge, query.edge),
                          (CameraAlert.camera, query.camera), (CameraAlert.zone, query.zone)):
        if value is not None:
            stmt = stmt.where(column == value)
    if query.since is not None:
        stmt = stmt.where(CameraAlert.ts >= query.since)
    if query.until is not None:
        stmt = stmt.where(CameraAlert.ts < query.until)
    stmt = newest_first(stmt, CameraAlert.ts, CameraAlert.id, query.cursor, str, query.limit)
    async with reading(request) as session:
        rows = list(await session.scalars(stmt))
        page, next_cursor = page_of(rows, query.limit, lambda a: (a.ts, a.id))
        wanted = {m for a in page for m in (a.snapshot_id, a.clip_id) if m is not None}
        stored = set(await session.scalars(
            select(SnapshotRow.id).where(SnapshotRow.id.in_(wanted)))) if wanted else set()
    return CameraAlertPage(items=[_alert_out(a, stored) for a in page], next_cursor=next_cursor)


@routes.get(r"/camera-alerts/{id:[0-9a-f-]{36}}", response=CameraAlertOut, roles=OPERATOR_ROLES)
async def get_camera_alert(request: web.Request) -> CameraAlertOut:
    """One camera alert with its snapshot and clip links."""
    alert_id = request.match_info["id"]
    async with reading(request) as session:
        alert = await visible(session, request, CameraAlert, "camera alert", alert_id)
        wanted = [m for m in (alert.snapshot_id, alert.clip_id) if m is not None]
        stored = set(await session.scalars(
            select(SnapshotRow.id).where(SnapshotRow.id.in_(wanted)))) if wanted else set()
    return _alert_out(alert, stored)


def _alert_out(a: CameraAlert, stored: set[str]) -> CameraAlertOut:
    return CameraAlertOut(
        id=a.id, ts=a.ts, site=a.site_id, edge=a.edge, camera=a.camera, event=a.event,
        zone=a.zone, area=a.area, detail=a.detail, snapshot_id=a.snapshot_id,
        snapshot_url=_media_url(a.snapshot_id), snapshot_available=a.snapshot_id in stored,
        clip_id=a.clip_id, clip_url=_media_url(a.clip_id), clip_available=a.clip_id in stored)


@routes.get(r"/snapshots/{id:[0-9a-f-]{36}}", roles=OPERATOR_ROLES,
            produces=("image/jpeg", "video/mp4"))
async def get_snapshot(request: web.Request) -> web.Response:
    """A camera alert's snapshot (image/jpeg) or clip (video/mp4), by the id in the alert."""
    media_id = request.match_info["id"]
    async with reading(request) as session:
        row = await session.get(SnapshotRow, media_id)
    if row is None or row.expires_at <= utcnow():
        raise NotFoundError("snapshot", media_id)
    scope_of(request).check("snapshot", media_id, row.site_id)
    return web.Response(body=row.data, content_type=row.content_type, headers={
        "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})


@routes.post("/snapshots", query=SnapshotUploadQuery, response=SnapshotStored, status=201,
             public=True,
             upload={"image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                     "video/mp4": {"schema": {"type": "string", "format": "binary"}}},
             errors={401: ErrorOut, 409: ErrorOut, 413: ErrorOut, 415: ErrorOut})
async def upload_snapshot(request: web.Request, query: SnapshotUploadQuery) -> web.Response:
    """An edge uploads an alert's snapshot or clip (bearer: the edge's upload token, not a
    user's); 201 stored, 200 already stored (a retried upload)."""
    try:
        token = bearer_token(request)
    except UnauthorizedError as exc:
        raise UnauthorizedError("an edge upload token is required (Authorization: Bearer)") \
            from exc
    async with reading(request) as session:
        edge = await edge_of_upload_token(session, token)
    if edge is None:
        raise UnauthorizedError("the upload token is invalid or revoked")
    expected = _CONTENT[query.kind]
    if request.content_type != expected:
        raise UnsupportedMediaError(f"a {query.kind} is {expected}, not {request.content_type}")
    policy = _policy(request.app)
    data = await _read_limited(request, policy.max_bytes)
    if not any(magic in data[:12] for magic in _MAGIC[query.kind]):
        raise UnsupportedMediaError(f"the body is not a {expected} file")
    expires = expiry(query.ts, policy.retention_days)
    async with request.app[SESSIONS]() as session, session.begin():
        held = await session.get(SnapshotRow, query.id)
        if held is not None:
            if (held.site_id, held.edge) != (edge.site_id, edge.name):
                raise ConflictError(f"snapshot {query.id} belongs to another edge",
                                    ("error.snapshot_other_edge", {"id": query.id}))
            created = False
            expires = held.expires_at
        else:
            session.add(SnapshotRow(
                id=query.id, site_id=edge.site_id, edge=edge.name, camera=query.camera,
                kind=query.kind, content_type=expected, size=len(data), ts=query.ts,
                received_at=utcnow(), expires_at=expires, data=data))
            created = True
    answer = SnapshotStored(id=query.id, url=_media_url(query.id) or "", expires_at=expires,
                            created=created)
    return web.json_response(answer.model_dump(mode="json"), status=201 if created else 200)


async def _read_limited(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise TooLargeError(f"{request.content_length} bytes is over the limit of {limit}")
    chunks, size = [], 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise TooLargeError(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    if not size:
        raise UnsupportedMediaError("the body is empty")
    return b"".join(chunks)


@routes.post(r"/edges/{id:\d+}/upload-token", response=UploadTokenOut, status=201,
             roles=COMPANY_ROLES)
async def issue_edge_upload_token(request: web.Request) -> UploadTokenOut:
    """Issue the edge's snapshot upload token (shown once; the previous one stops working)."""
    edge_id = path_id(request, "edge")
    async with request.app[SESSIONS]() as session, session.begin():
        edge = await visible(session, request, Edge, "edge", edge_id)
        answer = UploadTokenOut(edge_id=edge_id, site=edge.site_id, edge=edge.name,
                                token=await issue_upload_token(session, edge_id))
    return answer
