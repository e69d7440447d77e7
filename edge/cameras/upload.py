"""Uploads spooled snapshots and clips to the hub over HTTP with this edge's upload token.

`POST {url}/api/v1/snapshots?id=…&camera=…&kind=…&ts=…` with the bytes as the body and
`Authorization: Bearer <token>`. An item leaves the spool when the hub has it (201, or 200
for one it already had). While the hub is away or refuses the token, items wait and the
uploader backs off (capped, with jitter); an item the hub rejects as such (4xx other than
401/403/408/429) is dropped with a log line, since sending it again cannot help.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from types import TracebackType
from typing import Self

import aiohttp

from edge.cameras.config import UploadConfig
from edge.cameras.spool import SnapshotSpool, SpoolItem
from edge.tasks import stop

log = logging.getLogger(__name__)
_RETRY = {401, 403, 408, 429}


class SnapshotUploader:
    """`async with SnapshotUploader(config, spool):` sends until exit; `wake()` after adding."""

    def __init__(self, config: UploadConfig, spool: SnapshotSpool) -> None:
        self.config = config
        self.spool = spool
        self.uploaded = 0
        self.rejected = 0
        self.failures = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config.timeout_s),
            headers={"Authorization": f"Bearer {self.config.token}"})
        self._task = asyncio.create_task(self._run(), name="snapshot-uploader")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await stop(self._task)
        if self._session is not None:
            await self._session.close()

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        attempt = 0
        while True:
            self._wake.clear()
            items = await asyncio.to_thread(self.spool.oldest, 10)
            if not items:
                await self._wake.wait()
                continue
            for item in items:
                if not await self._send(item):
                    self.failures += 1
                    delay = min(self.config.backoff_max_s,
                                self.config.backoff_min_s * 2 ** attempt)
                    attempt += 1
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay * random.uniform(0.5, 1.0)):
                            await self._wake.wait()
                    break
                attempt = 0

    async def _send(self, item: SpoolItem) -> bool:
        """True when the item left the spool (sent, or refused for good)."""
        assert self._session is not None
        params = {"id": item.id, "camera": item.camera, "kind": item.kind, "ts": item.ts}
        try:
            async with self._session.post(
                f"{self.config.url}/api/v1/snapshots", params=params, data=item.data,
                headers={"Content-Type": item.content_type},
            ) as resp:
                status = resp.status
                body = (await resp.text())[:300]
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.info("snapshot %s: hub unreachable (%s); kept in the spool", item.id, exc)
            await asyncio.to_thread(self.spool.failed, item.id)
            return False
        if status in (200, 201):
            self.uploaded += 1
        elif 400 <= status < 500 and status not in _RETRY:
            self.rejected += 1
            log.error("snapshot %s refused by the hub (%d): %s; dropped", item.id, status, body)
        else:
            log.warning("snapshot %s: hub answered %d: %s; retrying later", item.id, status, body)
            await asyncio.to_thread(self.spool.failed, item.id)
            return False
        await asyncio.to_thread(self.spool.done, item.id)
        return True
