"""Readers' own keys as the edges report them (`reader_keyed`), kept sealed; opened only when
a configuration must carry the key back to an edge (e.g. a replacement edge)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.credentials.reader_keys import open_sealed
from hub.readers.models import ReaderKeyRow


def keyed_rows(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The `reader_keyed` events (event_log rows) that carry a sealed key."""
    return [r for r in events if r["kind"] == "agent" and r["data"].get("event") == "reader_keyed"
            and r["data"].get("sealed_key") and r["data"].get("door")]


async def record_reader_keys(session: AsyncSession, events: Sequence[dict[str, Any]]) -> None:
    """Keep the newest sealed key per door (an older event redelivered late changes nothing)."""
    for row in sorted(keyed_rows(events), key=lambda r: r["ts"]):
        data = row["data"]
        held = await session.get(ReaderKeyRow, (row["site_id"], row["edge"], data["door"]))
        if held is None:
            held = ReaderKeyRow(site_id=row["site_id"], edge=row["edge"], door=data["door"])
            session.add(held)
        elif held.keyed_at >= row["ts"]:
            continue
        held.address = int(data.get("address") or 0)
        held.sealed_key = data["sealed_key"]
        held.fingerprint = data.get("key_fingerprint") or ""
        held.keyed_at = row["ts"]
        held.event_id = row["id"]
    await session.flush()


async def reader_key(session: AsyncSession, site: str, edge: str, door: str,
                     keys: list[Ed25519PrivateKey]) -> bytes | None:
    """The key the door's reader holds, for a configuration to carry; None if none reported."""
    held = await session.scalar(select(ReaderKeyRow).where(
        ReaderKeyRow.site_id == site, ReaderKeyRow.edge == edge, ReaderKeyRow.door == door))
    if held is None:
        return None
    return open_sealed(held.sealed_key, keys, f"{site}/{edge}/{door}/{held.address}")
