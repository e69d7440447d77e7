"""Helpers for the hub tests: event payloads and a plain publisher client."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.mqtt import MqttClient
from wire import new_event_id, topics


def access_event(seq: int, *, site: str = "demo", edge: str = "b1-edge", card: str = "1001",
                 event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or new_event_id(),
        "ts": datetime.now(UTC).isoformat(),
        "site": site, "edge": edge, "device": "reader-1", "seq": seq, "kind": "access",
        "data": {"door": "B1-main", "credential_type": "card", "credential": card,
                 "resident_id": 1, "result": "granted", "reason": "granted", "decision_us": 420},
    }


def door_event(seq: int, *, site: str = "demo", edge: str = "b1-edge") -> dict[str, Any]:
    return {
        "id": new_event_id(), "ts": datetime.now(UTC).isoformat(), "site": site,
        "edge": edge, "device": "door-1", "seq": seq, "kind": "door",
        "data": {"door": "B1-main", "event": "opened"},
    }


def event_topic(event: dict[str, Any]) -> str:
    return topics.event(event["site"], event["edge"], event["kind"])


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def edge_client(host: str, port: int, name: str = "test-edge", **kw: Any) -> MqttClient:
    return MqttClient(host=host, port=port, client_id=name, clean_session=True, **kw)


async def count(sessions: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())
