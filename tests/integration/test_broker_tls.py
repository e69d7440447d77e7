"""TLS to the broker is a setting away: the shipped mosquitto.conf with its TLS listeners
enabled, run by a real Mosquitto, with the CA and certificates of `lintel provision tls` /
`provision edge --cert`; the hub and two edges (password over TLS, client certificate)."""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import select

from edge.agent import EdgeAgent
from edge.config import EdgeConfig, load_config
from harness.services import dynsec_plugin, find_binary, free_port, wait_for_port
from hub.live import Listener, LiveItem
from hub.models import Edge
from hub.seed import seed_demo
from hub.service import Hub
from hub.settings import HubSettings
from lintel.provision import DYNSEC_FILE, provision_edge, provision_hub, provision_tls
from wire import topics

# 46 s on CI (with the two-core machine shared); the limit only catches a hang
pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Broker:
    plain: int
    tls: int
    cert: int
    ca: Path
    dir: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        with open(self.dir / "log", "ab") as log:
            proc = subprocess.Popen([find_binary("mosquitto", "/usr/sbin"), "-c",
                                     str(self.dir / "mosquitto.conf")], stdout=log, stderr=log)
        for port in (self.plain, self.tls, self.cert):
            wait_for_port(port)
        return proc

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def reload_auth(self, out: Path) -> None:
        """Install the provisioned accounts and restart Mosquitto: the dynamic-security
        plugin reads its file only at start (a SIGHUP does not reload it)."""
        shutil.copy(out / "mosquitto" / DYNSEC_FILE, self.dir / DYNSEC_FILE)
        os.chmod(self.dir / DYNSEC_FILE, 0o644)
        self.stop()
        self.proc = self.start()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """deploy/mosquitto/mosquitto.conf + conf.d/tls.conf.disabled as shipped, with the
    container paths pointed at this test's folder and the ports at free loopback ports."""
    out = tmp_path / "deploy"
    provision_tls(out, ["127.0.0.1", "localhost"])
    # not under tmp_path: the broker drops to the `mosquitto` user, which must reach it
    run = Path(tempfile.mkdtemp(prefix="lintel-tls-"))
    (run / "conf.d").mkdir(parents=True)
    (run / "data").mkdir()
    ports = {1883: free_port(), 8883: free_port(), 8884: free_port()}

    def adapt(text: str) -> str:
        for port, free in ports.items():
            text = text.replace(f"listener {port}\n", f"listener {free} 127.0.0.1\n")
        return (text.replace("/mosquitto/config/", f"{run}/").replace("/mosquitto/tls/", f"{run}/")
                .replace("/mosquitto/data/", f"{run}/data/").replace("log_dest stdout", "log_dest stderr")
                .replace("/usr/lib/mosquitto_dynamic_security.so", dynsec_plugin()))

    shipped = REPO / "deploy" / "mosquitto"
    conf = run / "mosquitto.conf"
    conf.write_text(adapt((shipped / "mosquitto.conf").read_text()))
    (run / "conf.d" / "tls.conf").write_text(adapt((shipped / "conf.d" / "tls.conf.disabled").read_text()))
    for name in ("ca.crt", "server.crt", "server.key"):
        shutil.copy(out / "tls" / name, run / name)
    (run / DYNSEC_FILE).write_text('{"clients": [], "groups": [], "roles": []}')
    if os.geteuid() == 0:  # Mosquitto drops root for the `mosquitto` user
        with conf.open("a") as fh:
            fh.write("user mosquitto\n")
        for path in [run, *run.rglob("*")]:
            shutil.chown(path, user="mosquitto")
    broker = Broker(ports[1883], ports[8883], ports[8884], out / "tls" / "ca.crt", run)
    try:
        broker.proc = broker.start()
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(run, ignore_errors=True)


def edge_config(path: Path, tmp: Path, port: int, ca: Path) -> EdgeConfig:
    """The provisioned config as this host sees it: no readers, paths under `tmp`."""
    config = load_config(path)
    mqtt_cfg = config.mqtt.model_copy(update={
        "host": "127.0.0.1", "port": port, "ca_file": ca,
        "cert_file": path.with_suffix(".crt") if config.mqtt.cert_file else None,
        "key_file": path.with_suffix(".key") if config.mqtt.key_file else None})
    return config.model_copy(update={"mqtt": mqtt_cfg, "doors": [], "data_dir": tmp / config.edge})


def connect_result(port: int, ca: Path | None, **auth: str) -> mqtt.ReasonCode | str:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{time.monotonic_ns()}")
    if "username" in auth:
        client.username_pw_set(auth["username"], auth.get("password"))
    if ca is not None:
        client.tls_set(ca_certs=str(ca), certfile=auth.get("certfile"), keyfile=auth.get("keyfile"))
    result: list = []
    client.on_connect = lambda c, u, f, rc, p=None: result.append(rc)
    try:
        client.connect("127.0.0.1", port, keepalive=5)
    except (OSError, ssl.SSLError) as exc:
        return f"refused: {exc}"
    deadline = time.monotonic() + 20
    while not result and time.monotonic() < deadline:
        client.loop(0.1)
    client.disconnect()
    return result[0] if result else "no CONNACK"


async def test_hub_and_edges_over_tls_with_password_and_client_certificate(
        broker: Broker, tmp_path: Path) -> None:
    out = tmp_path / "deploy"
    hub_id = provision_hub(out)
    b1 = provision_edge(out, "demo", "B1", tls=True)
    b2 = provision_edge(out, "demo", "B2", client_cert=True)
    broker.reload_auth(out)

    # the hub's env file carries the signing key whose public half the edges' files trust
    assert hub_id.config is not None
    env = dict(line.split("=", 1) for line in hub_id.config.read_text().splitlines())
    settings = HubSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}", mqtt_host="127.0.0.1",
        mqtt_port=broker.tls, mqtt_tls=True, mqtt_ca_file=broker.ca,
        mqtt_username=hub_id.username, mqtt_password=hub_id.password,
        mqtt_client_id="hub-tls", http_port=free_port(), data_dir=tmp_path / "hub",
        admin_password="not used here", signing_key=env["LINTEL_HUB_SIGNING_KEY"])
    async with Hub(settings) as hub:
        # the live bus's own connection: over TLS, and the hub's ACL lets the push through
        console = Listener(role="admin", user_id=1, channels=frozenset({"edges"}))
        hub.live.listen(console)
        await hub.live.wait_ready()
        await hub.live.publish([LiveItem("edges", {"probe": 1}, site_id="demo")])
        async with asyncio.timeout(10):
            assert (await console.queue.get()).data == {"probe": 1}
        await seed_demo(hub.sessions)
        async with hub.sessions() as session, session.begin():
            session.add(Edge(site_id="demo", name="b2-edge"))
        await hub.publisher.publish_site("demo")
        b1_config = edge_config(b1.config, tmp_path, broker.tls, broker.ca)
        b2_config = edge_config(b2.config, tmp_path, broker.cert, broker.ca)
        assert b2_config.mqtt.username is None and b2_config.mqtt.cert_file is not None
        async with EdgeAgent(b1_config) as agent1, EdgeAgent(b2_config):
            # the hub's snapshot reached B1 over TLS, and both edges' state reached the hub
            async with asyncio.timeout(20):
                while True:
                    async with hub.sessions() as session:
                        status = dict((await session.execute(
                            select(Edge.name, Edge.status).where(Edge.site_id == "demo"))).all())
                    if agent1.cache.version and status == {"b1-edge": "online", "b2-edge": "online"}:
                        break
                    await asyncio.sleep(0.1)

    # the TLS listeners refuse what they should
    assert connect_result(broker.tls, broker.ca, username=b1.username, password="guess").is_failure
    assert not isinstance(connect_result(broker.tls, None, username=b1.username,
                                         password=b1.password), mqtt.ReasonCode)  # plain to TLS
    assert isinstance(connect_result(broker.cert, broker.ca), str)  # no client certificate
    # B2's certificate names B2: its ACL confines it like a password would
    probe = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="b2-probe")
    probe.tls_set(ca_certs=str(broker.ca), certfile=str(b2.config.with_suffix(".crt")),
                  keyfile=str(b2.config.with_suffix(".key")))
    hub_sees: list[bytes] = []
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watch")
    watcher.username_pw_set(hub_id.username, hub_id.password)
    watcher.tls_set(ca_certs=str(broker.ca))
    watcher.on_message = lambda c, u, m: hub_sees.append(bytes(m.payload))
    watcher.connect("127.0.0.1", broker.tls)
    watcher.subscribe(f"{topics.ROOT}/demo/+/evt/#", qos=1)
    watcher.loop_start()
    probe.connect("127.0.0.1", broker.cert)
    probe.loop_start()
    try:
        await asyncio.sleep(0.5)
        probe.publish(topics.event("demo", "b1-edge", "access"), b"forged", qos=1).wait_for_publish(5)
        probe.publish(topics.event("demo", "b2-edge", "access"), b"mine", qos=1).wait_for_publish(5)
        await asyncio.sleep(1.0)
        assert hub_sees == [b"mine"]
    finally:
        for client in (probe, watcher):
            client.disconnect()
            client.loop_stop()
