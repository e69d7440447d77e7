"""Two hub processes on one PostgreSQL and one Mosquitto, both running the work-order jobs
and notifiers: each preventive order opens once, is posted to the webhook once and pushed to
its technician's console on either worker."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from hub.models import Device, Site, utcnow
from hub.service import Hub
from hub.settings import HubSettings
from hub.workorders import WorkOrder
from hub.workorders.ledger import local_date, site_zone
from tests.hub.workorders.conftest import Receiver
from tests.support.live import live_socket
from tests.support.services import MosquittoServer
from tests.support.waiting import until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
PASSWORD = "correct horse battery staple"
LIFTS = 4


async def _api(http: aiohttp.ClientSession, hub: Hub, method: str, path: str, token: str,
               status: int, **kwargs: Any) -> Any:
    async with http.request(method, f"{hub.url}/api/v1{path}", **kwargs,
                            headers={"Authorization": f"Bearer {token}"}) as resp:
        body = await resp.json()
        assert resp.status == status, body
        return body


async def _login(http: aiohttp.ClientSession, hub: Hub, username: str) -> str:
    async with http.post(f"{hub.url}/api/v1/auth/login",
                         json={"username": username, "password": PASSWORD}) as resp:
        assert resp.status == 200
        return str((await resp.json())["token"])


async def test_two_workers_open_each_preventive_order_once(
        mosquitto: MosquittoServer, postgres_url: str, tmp_path: Path,
        receiver: Receiver) -> None:
    def settings(n: int) -> HubSettings:
        return HubSettings(
            database_url=postgres_url,
            mqtt_port=mosquitto.port, mqtt_client_id=f"hub-{n}", http_port=0,
            data_dir=tmp_path, admin_password=PASSWORD,  # type: ignore[arg-type]
            workorder_job_interval_s=0.1, workorder_webhook_url=receiver.url)

    async with Hub(settings(1)) as one, Hub(settings(2)) as two, \
            aiohttp.ClientSession() as http:
        await one.live.wait_ready()
        await two.live.wait_ready()
        async with one.sessions() as session, session.begin():
            session.add(Site(id="sunrise", name="Sunrise", timezone="Asia/Shanghai"))
            await session.flush()
            lifts = [Device(site_id="sunrise", edge="edge-b1", name=f"lift-{i}",
                            device_type="elevator", model="m", status="online")
                     for i in range(LIFTS)]
            session.add_all(lifts)
        admin = await _login(http, one, "admin")
        tech = await _api(http, one, "POST", "/users", admin, 201, json={
            "username": "wang", "password": PASSWORD, "role": "technician",
            "site_id": "sunrise"})
        await _api(http, two, "PATCH", f"/technicians/{tech['id']}", admin, 200,
                   json={"skills": ["elevator"]})
        token = await _login(http, two, "wang")
        today = local_date(utcnow(), site_zone("Asia/Shanghai"))
        async with live_socket(http, two.url, ["work_orders"], token=token) as console:
            for i, lift in enumerate(lifts):  # due in 2 days: within the default 3-day lead
                hub = one if i % 2 else two
                await _api(http, hub, "PATCH", f"/equipment/{lift.id}", admin, 200, json={
                    "cycle_days": 15, "next_due_on": (today + timedelta(days=2)).isoformat()})
            seen = set()
            for _ in lifts:
                pushed = await console.next("work_orders", timeout=10, kind="preventive")
                seen.add(pushed["device_id"])
            assert seen == {lift.id for lift in lifts}

            async def posted() -> bool:
                return len(receiver.got) >= LIFTS
            await until(posted)
            # both workers keep running their jobs: still one order per device and due date
            for _ in range(5):
                await one.workorders[1].run_once()
                await two.workorders[1].run_once()
        async with one.sessions() as session:
            per_device = (await session.execute(
                select(WorkOrder.device_id, WorkOrder.pm_due_on, func.count())
                .group_by(WorkOrder.device_id, WorkOrder.pm_due_on))).all()
    due = today + timedelta(days=2)
    assert sorted(per_device) == sorted((lift.id, due, 1) for lift in lifts)
    assert sorted(body["work_order"]["device_id"] for _, body in receiver.got) == sorted(
        lift.id for lift in lifts)
    # due by the end of the due day in Shanghai: 16:00 UTC that day
    assert {body["work_order"]["due_at"] for _, body in receiver.got} == {
        f"{due.isoformat()}T16:00:00+00:00"}
