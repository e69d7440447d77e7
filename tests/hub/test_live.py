"""The live bus: who receives what (unit), and pushes crossing two hub workers (Mosquitto)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from hub.live import Listener, LiveBus, LiveItem
from hub.mqtt import MqttClient
from hub.seed import seed_demo
from hub.service import Hub
from hub.settings import HubSettings
from tests.hub.support import access_event, dumps, edge_client, event_topic
from tests.support.live import live_socket
from tests.support.services import MosquittoServer
from tests.support.waiting import until

ITEM = LiveItem("access", {"id": "e1"}, site_id="sunrise", building_id=1)
ALL = frozenset({"access", "devices"})


def listener(role: str, *, site: str | None = "sunrise", household: int | None = None,
             building: int | None = None, user_id: int = 7) -> Listener:
    return Listener(role=role, user_id=user_id, channels=ALL, site_id=site,
                    household_id=household, building_id=building)


@pytest.mark.parametrize(("who", "item", "admitted"), [
    (listener("admin", site=None), ITEM, True),
    (listener("guard"), ITEM, True),
    (listener("guard", site="moonbay"), ITEM, False),  # another site
    (listener("technician"), ITEM, False),  # the access log is the control room's
    (listener("technician"), LiveItem("devices", {}, site_id="sunrise"), True),
    (listener("guard"), LiveItem("devices", {}, site_id="sunrise", user_id=9), False),
    (listener("manager"), LiveItem("devices", {}, site_id="sunrise", user_id=9), True),
    (listener("technician", user_id=9), LiveItem("devices", {}, site_id="sunrise", user_id=9),
     True),
    (listener("guard"), LiveItem("alarms-not-listened", {}, site_id="sunrise"), False),
])
def test_listener_admits_by_channel_role_and_scope(who: Listener, item: LiveItem,
                                                   admitted: bool) -> None:
    assert who.admits(item) is admitted


def test_resident_admission_by_household_building_and_site(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("hub.live").live.CHANNEL_ROLES, "notices",
                        frozenset({"resident", "manager"}))
    me = Listener(role="resident", user_id=5, channels=frozenset({"notices"}), site_id="sunrise",
                  household_id=3, building_id=1)
    assert me.admits(LiveItem("notices", {}, site_id="sunrise", household_id=3))
    assert not me.admits(LiveItem("notices", {}, site_id="sunrise", household_id=4))
    assert me.admits(LiveItem("notices", {}, site_id="sunrise", building_id=1))
    assert not me.admits(LiveItem("notices", {}, site_id="sunrise", building_id=2))
    assert me.admits(LiveItem("notices", {}, site_id="sunrise"))  # site-wide
    assert not me.admits(LiveItem("notices", {}, site_id="moonbay"))
    assert me.admits(LiveItem("notices", {}, site_id="sunrise", user_id=5))
    assert not me.admits(LiveItem("notices", {}, site_id="sunrise", user_id=6))


def test_a_console_that_stops_reading_keeps_the_newest_items() -> None:
    who = listener("guard")
    for i in range(who.queue.maxsize + 5):
        who.offer(LiveItem("access", {"n": i}, site_id="sunrise"))
    assert who.dropped == 5
    assert who.queue.get_nowait().data == {"n": 5}


@pytest.mark.integration
@pytest.mark.timeout(60)
async def test_a_swipe_stored_by_one_worker_reaches_consoles_on_both(
    mosquitto: MosquittoServer, postgres_url: str, tmp_path: Path
) -> None:
    # PostgreSQL: two workers on one SQLite file wait on each other's write locks
    def settings(n: int) -> HubSettings:
        return HubSettings(database_url=postgres_url,
                           mqtt_port=mosquitto.port, mqtt_client_id=f"hub-{n}", http_port=0,
                           data_dir=tmp_path, admin_password="correct horse")  # type: ignore[arg-type]

    async with Hub(settings(1)) as one, Hub(settings(2)) as two, aiohttp.ClientSession() as http:
        await seed_demo(one.sessions)
        await one.live.wait_ready()
        await two.live.wait_ready()
        login = {"username": "admin", "password": "correct horse"}
        async with http.post(f"{one.url}/api/v1/auth/login", json=login) as resp:
            token = (await resp.json())["token"]
        async with live_socket(http, one.url, ["access"], token=token) as first, \
                live_socket(http, two.url, ["access", "edges"], token=token) as second:
            await until(lambda: one.live.listeners == two.live.listeners == 1)
            events = [access_event(seq) for seq in (1, 2)]
            async with edge_client("127.0.0.1", mosquitto.port) as edge:
                await edge.wait_ready(10)
                for event in events:
                    await edge.publish(event_topic(event), dumps(event))
            for socket in (first, second):
                # each worker pushes its own share: the two may arrive in either order
                got = {}
                while len(got) < len(events):
                    data = await socket.next("access", timeout=15)
                    got[data["id"]] = data
                assert set(got) == {event["id"] for event in events}
                assert {(d["door"], d["result"], d["edge"]) for d in got.values()} == {
                    ("B1-main", "granted", "b1-edge")}
            stored = one.ingest.stats.events + two.ingest.stats.events
            assert stored == 2  # the shared subscription split them; the pushes reached both


@pytest.mark.integration
@pytest.mark.timeout(60)
async def test_a_worker_reads_the_pushes_only_while_a_console_listens(
        mosquitto: MosquittoServer) -> None:
    """A worker without consoles is not subscribed (it would parse every push for nobody);
    its first console subscribes it, its last one's leaving unsubscribes it."""
    def client(name: str) -> MqttClient:
        return MqttClient(host="127.0.0.1", port=mosquitto.port, client_id=name)

    async with client("pusher") as a, client("reader") as b, LiveBus(a) as pusher, \
            LiveBus(b) as reader:
        await a.wait_ready(10)
        await reader.wait_ready(10)  # nobody listens: ready at once, subscribed to nothing
        seen = reader._subscriber
        assert seen is not None and seen.subscriptions == []
        await pusher.publish([LiveItem("access", {"n": 1}, site_id="sunrise")])
        await asyncio.sleep(0.3)
        assert seen.messages.empty()  # the broker sent it nowhere

        guard = listener("guard")
        reader.listen(guard)
        await reader.wait_ready(10)
        await pusher.publish([LiveItem("access", {"n": 2}, site_id="sunrise")])
        async with asyncio.timeout(10):
            assert (await guard.queue.get()).data == {"n": 2}

        reader.unlisten(guard)
        assert seen.subscriptions == []
        await asyncio.sleep(0.3)  # the unsubscription reaches the broker
        await pusher.publish([LiveItem("access", {"n": 3}, site_id="sunrise")])
        await asyncio.sleep(0.3)
        assert guard.queue.empty() and seen.messages.empty()
