"""Telling people about work orders: live push on channel "work_orders" and an optional
webhook, from the outbox that the order's own transaction wrote.

Off the request path: a view or rule commits, a listener on the session's commit wakes the
notifier of this hub worker, which leases the new rows (so another worker does not send them
too), pushes them and posts them to the webhook with a timeout, retrying with backoff. A
failed webhook is logged and retried, and given up after a few attempts; the order itself
was committed before any of this and is never touched here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

import aiohttp
from sqlalchemy import delete, event, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from hub.live import LiveBus, LiveItem
from hub.models import utcnow
from hub.tasks import cancel_and_wait
from hub.texts import localize
from hub.workorders.models import WorkOrderOutbox
from hub.workorders.service import OUTBOX_FLAG

log = logging.getLogger(__name__)
CHANNEL = "work_orders"
# A user id no user has: an item only the site's managers (and admins) receive (hub.live).
MANAGERS_ONLY = 0
BATCH = 100
LEASE = timedelta(seconds=60)
KEEP_DONE = timedelta(days=1)
_RUNNING: weakref.WeakSet[WorkOrderNotifier] = weakref.WeakSet()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(OUTBOX_FLAG, None):
        for notifier in list(_RUNNING):
            notifier.nudge()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(OUTBOX_FLAG, None)


def live_items(row: WorkOrderOutbox) -> list[LiveItem]:
    """Each technician named, else the site's managers; and the resident who asked."""
    payload = row.payload
    data = {"event": payload["event"], **payload["order"]}
    items = [LiveItem(CHANNEL, data, site_id=row.site_id, user_id=uid)
             for uid in payload["users"]]
    if not items:
        items.append(LiveItem(CHANNEL, data, site_id=row.site_id, user_id=MANAGERS_ONLY))
    if payload.get("requester") is not None:
        items.append(LiveItem(CHANNEL, data, site_id=row.site_id,
                              household_id=payload.get("household_id"),
                              user_id=payload["requester"]))
    return items


def webhook_body(row: WorkOrderOutbox) -> dict[str, Any]:
    payload = row.payload
    return {"event": payload["event"], "work_order": localize(payload["order"], "en"),
            "notify_user_ids": payload["users"], "managers": payload["managers"],
            "outbox_id": row.id, "queued_at": row.created_at.isoformat()}


class WorkOrderNotifier:
    """`async with WorkOrderNotifier(sessions, live, webhook_url=...)`: sends the outbox."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], live: LiveBus | None, *,
                 webhook_url: str | None = None, webhook_timeout_s: float = 5.0,
                 webhook_attempts: int = 4, retry_base_s: float = 2.0,
                 poll_s: float = 5.0, clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._live = live
        self._url = webhook_url
        self._timeout = aiohttp.ClientTimeout(total=webhook_timeout_s)
        self._attempts = max(1, webhook_attempts)
        self._retry_base_s = retry_base_s
        self._poll_s = poll_s
        self._clock = clock
        self._wake = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.sent = 0  # webhook posts accepted
        self.failed = 0  # webhook posts that failed (each attempt)

    def nudge(self) -> None:
        self._wake.set()

    async def __aenter__(self) -> Self:
        if self._url:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        self._task = asyncio.create_task(self._run(), name="workorder-notifier")
        _RUNNING.add(self)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        _RUNNING.discard(self)
        task, self._task = self._task, None
        await cancel_and_wait(task)
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _run(self) -> None:
        while True:
            try:
                while await self.dispatch_once():
                    pass
            except Exception:  # the database may be away; the rows wait in the outbox
                log.exception("work-order notifications failed; retrying")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._wake.wait()
            self._wake.clear()

    async def dispatch_once(self) -> int:
        """Lease, send and settle one batch of due rows; how many were leased."""
        now = self._clock()
        rows = await self._lease(now)
        if not rows:
            return 0
        fresh = [item for row in rows if not row.live_sent for item in live_items(row)]
        if fresh and self._live is not None:
            await self._live.publish(fresh)  # never raises
        results = await asyncio.gather(*(self._post(row) for row in rows))
        async with self._sessions() as session, session.begin():
            for row, ok in zip(rows, results, strict=True):
                await session.execute(
                    update(WorkOrderOutbox).where(WorkOrderOutbox.id == row.id)
                    .values(**self._settled(row, ok, now)))
        return len(rows)

    async def _lease(self, now: datetime) -> list[WorkOrderOutbox]:
        due = (WorkOrderOutbox.done.is_(False), WorkOrderOutbox.next_attempt_at <= now,
               or_(WorkOrderOutbox.lease_until.is_(None), WorkOrderOutbox.lease_until < now))
        async with self._sessions() as session, session.begin():
            # A conditional UPDATE: of two workers leasing the same rows, one wins each row.
            candidates = select(WorkOrderOutbox.id).where(*due).order_by(
                WorkOrderOutbox.id).limit(BATCH).scalar_subquery()
            leased = list(await session.scalars(
                update(WorkOrderOutbox).where(WorkOrderOutbox.id.in_(candidates), *due)
                .values(lease_until=now + LEASE).returning(WorkOrderOutbox.id)
                .execution_options(synchronize_session=False)))
            if not leased:
                return []
            rows = list(await session.scalars(select(WorkOrderOutbox).where(
                WorkOrderOutbox.id.in_(leased)).order_by(WorkOrderOutbox.id)))
            session.expunge_all()  # read after the commit, whatever the session's expiry
            return rows

    def _settled(self, row: WorkOrderOutbox, ok: bool, now: datetime) -> dict[str, Any]:
        values: dict[str, Any] = {"live_sent": True, "lease_until": None}
        if ok:
            values["done"] = True
            return values
        attempts = row.webhook_attempts + 1
        values["webhook_attempts"] = attempts
        if attempts >= self._attempts:
            log.error("work order %s: webhook gave up on %r after %d attempts",
                      row.order_id, row.event, attempts)
            values["done"] = True
        else:
            values["next_attempt_at"] = now + timedelta(
                seconds=self._retry_base_s * 2 ** (attempts - 1))
        return values

    async def _post(self, row: WorkOrderOutbox) -> bool:
        if self._http is None or not self._url:
            return True
        body = json.dumps(webhook_body(row), ensure_ascii=False, separators=(",", ":"))
        try:
            async with self._http.post(self._url, data=body.encode(), headers={
                    "Content-Type": "application/json",
                    "X-Lintel-Event": f"work_order.{row.event}"}) as resp:
                if 200 <= resp.status < 300:
                    self.sent += 1
                    return True
                reason = f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        self.failed += 1
        log.warning("work order %s: webhook %s for %r failed (%s, attempt %d)", row.order_id,
                    self._url, row.event, reason, row.webhook_attempts + 1)
        return False


async def purge_sent(session: AsyncSession, now: datetime) -> int:
    """Drop outbox rows settled more than a day ago."""
    result = await session.execute(delete(WorkOrderOutbox).where(
        WorkOrderOutbox.done.is_(True), WorkOrderOutbox.created_at < now - KEEP_DONE))
    return int(getattr(result, "rowcount", 0) or 0)


__all__ = ["CHANNEL", "MANAGERS_ONLY", "WorkOrderNotifier", "live_items", "purge_sent"]
