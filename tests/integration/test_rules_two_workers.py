"""Two hub workers on one Mosquitto shared subscription and one PostgreSQL: events of the
same doors and devices interleaved across them (and redelivered), timers come due while both
check. No alarm, repeat count or work order is doubled or lost, and each timer fires once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.models import EventLog
from hub.mqtt import MqttClient
from hub.rules.clock import ShiftedClock
from hub.rules.models import Alarm, AlarmHistory
from hub.seed import seed_demo
from hub.service import Hub
from hub.settings import HubSettings
from hub.workorders import WorkOrder
from tests.support.services import MosquittoServer, free_port
from wire import new_event_id, topics

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]


@contextlib.asynccontextmanager
async def two_hubs(tmp_path: Path, mqtt_port: int, database_url: str,
                   clock: ShiftedClock) -> AsyncIterator[tuple[Hub, Hub]]:
    async with contextlib.AsyncExitStack() as stack:
        hubs = []
        for name in ("a", "b"):
            settings = HubSettings(
                database_url=database_url, mqtt_port=mqtt_port, mqtt_username="hub",
                mqtt_client_id=f"hub-{name}-{secrets.token_hex(3)}", mqtt_shared_group="hub",
                http_port=free_port(), admin_password="correct horse battery staple",
                data_dir=tmp_path / "hub", rules_check_interval_s=0.05)
            hub = await stack.enter_async_context(Hub(settings, clock=clock))
            await hub.mqtt.wait_ready(10)
            hubs.append(hub)
        yield hubs[0], hubs[1]


def event(kind: str, device: str, data: dict[str, Any], ts: datetime, seq: int) -> dict[str, Any]:
    return {"id": new_event_id(), "ts": ts.isoformat(), "site": "demo", "edge": "b1-edge",
            "device": device, "seq": seq, "kind": kind, "data": data}


def story(now: datetime) -> list[dict[str, Any]]:
    """Forced doors (10 each at 3 doors), denials (10 each at 4 doors), faults (2 raises at 10
    lifts), and 10 doors opened and left open; interleaved round-robin."""
    seq = iter(range(1, 10_000))
    streams: list[list[dict[str, Any]]] = []
    for d in range(3):
        streams.append([event("door", f"F{d}", {"door": f"F{d}", "event": "forced_open"},
                              now + timedelta(seconds=i), next(seq)) for i in range(10)])
    for d in range(4):
        streams.append([event("access", f"R{d}", {
            "door": f"R{d}", "credential_type": "card", "credential": f"9{i}",
            "result": "denied", "reason": "unknown_card", "decision_us": 90},
            now + timedelta(seconds=i), next(seq)) for i in range(10)])
    fault = {"device_type": "elevator", "model": "elevator-vvvf-a", "event": "fault_raised",
             "code": "Err41", "severity": "critical", "skill": "elevator_safety",
             "text": "Safety circuit open"}
    for lift in range(10):
        streams.append([event("device", f"lift-{lift}", fault, now + timedelta(seconds=i),
                              next(seq)) for i in range(2)])
    streams.append([event("door", f"H{d}", {"door": f"H{d}", "event": "opened"}, now,
                          next(seq)) for d in range(10)])
    out = []
    for i in range(max(len(s) for s in streams)):
        out += [s[i] for s in streams if i < len(s)]
    return out


async def test_two_workers_double_nothing(tmp_path: Path, mosquitto: MosquittoServer,
                                          postgres_url: str) -> None:
    clock = ShiftedClock()
    async with two_hubs(tmp_path, mosquitto.port, postgres_url, clock) as (a, b):
        await seed_demo(a.sessions)
        events = story(datetime.now(UTC))
        async with MqttClient(host="127.0.0.1", port=mosquitto.port, client_id="b1-edge",
                              clean_session=True) as edge:
            await edge.wait_ready(10)
            for e in events:
                payload = json.dumps(e).encode()
                topic = topics.event("demo", "b1-edge", e["kind"])
                await edge.publish(topic, payload, qos=1)
                if e["kind"] == "door" and e["device"].startswith("F"):
                    await edge.publish(topic, payload, qos=1)  # a redelivery: same id
        async def stored() -> int:
            async with a.sessions() as session:
                return int(await session.scalar(select(func.count()).select_from(EventLog)) or 0)
        for _ in range(200):
            if await stored() == len(events):
                break
            await asyncio.sleep(0.05)
        assert await stored() == len(events)
        await a.ingest.wait_idle()
        await b.ingest.wait_idle()
        assert a.ingest.stats.events > 20 and b.ingest.stats.events > 20, "not interleaved"

        clock.advance(61)  # every held-open timer comes due; both workers check every 50 ms
        async with a.sessions() as session:
            for _ in range(200):
                held = await session.scalar(select(func.count()).select_from(Alarm).where(
                    Alarm.type == "door_held_open"))
                if held == 10:
                    break
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # time for a double to show up, if there were one

        async with a.sessions() as session:
            rows = (await session.execute(
                select(Alarm.type, Alarm.dedup_key, Alarm.count).order_by(Alarm.dedup_key))).all()
            raised = (await session.execute(
                select(AlarmHistory.alarm_id, func.count()).where(AlarmHistory.action == "raised")
                .group_by(AlarmHistory.alarm_id))).all()
            orders = (await session.execute(select(WorkOrder.device_id, WorkOrder.fault_code)))
            orders = orders.all()
        counts: dict[str, list[int]] = {}
        for type_, _, n in rows:
            counts.setdefault(type_, []).append(n)
        assert counts == {
            "door_forced_open": [10] * 3,  # ten forced openings each, redeliveries not counted
            "repeated_denials": [6] * 4,  # the 5th to the 10th denial each trigger
            "device_fault": [2] * 10,
            "door_held_open": [1] * 10,  # each timer fired once
        }
        assert len({key for _, key, _ in rows}) == len(rows) == 27
        assert all(n == 1 for _, n in raised) and len(raised) == 27
        assert len(orders) == 10 and len(set(orders)) == 10
        assert a.rules is not None and b.rules is not None
        assert a.rules.stats.timers_fired + b.rules.stats.timers_fired == 10
