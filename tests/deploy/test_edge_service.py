"""An edge service of docker-compose.yml run on the host: its own command, with the config
`lintel provision` wrote (container paths mapped to a temporary folder). The simulators link
their ptys at the config's reader ports, the agent opens them, and a swipe reaches the broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lintel.provision import DYNSEC_FILE, provision_edge, provision_hub
from tests.deploy.compose import REPO, load
from tests.support.mqtt import Collector
from tests.support.services import MosquittoServer
from wire import parse_event, topics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_the_edge_services_command_runs_the_edge_on_its_simulated_readers(tmp_path: Path) -> None:
    out = tmp_path / "deploy"
    hub = provision_hub(out)
    edge = provision_edge(out, "demo", "B1", doors=["B1-main", "B1-garage"])
    assert edge.config is not None
    broker = MosquittoServer(accounts=out / "mosquitto" / DYNSEC_FILE)
    broker.start()
    run = tmp_path / "run"
    # the compose service's command, its container paths pointing into tmp_path
    _, services = load(REPO)
    command = services["edge-b1"].spec["command"][0]
    config = yaml.safe_load(edge.config.read_text())
    config["mqtt"].update(host="127.0.0.1", port=broker.port)
    config["data_dir"] = str(tmp_path / "data")
    for door in config["doors"]:
        door["reader"]["port"] = door["reader"]["port"].replace("/run/lintel", str(run))
    (tmp_path / "edge.yaml").write_text(yaml.safe_dump(config))
    command = (command.replace("/etc/lintel/edge.yaml", str(tmp_path / "edge.yaml"))
               .replace("/run/lintel", str(run)))
    bindir = Path(sys.executable).parent
    proc = subprocess.Popen(["sh", "-c", command], start_new_session=True,
                            env={**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        collector = Collector("127.0.0.1", broker.port, f"{topics.ROOT}/#",
                              client_id=hub.username, password=hub.password)
        deadline = time.monotonic() + 30
        while True:
            status = subprocess.run([str(bindir / "lintel"), "sim", "--data", str(run), "status"],
                                    capture_output=True, text=True, check=False)
            doors = json.loads(status.stdout)["doors"] if status.returncode == 0 else []
            if doors and all(d["online"] for d in doors):
                break
            assert time.monotonic() < deadline, f"readers not online: {status.stdout}{status.stderr}"
            time.sleep(0.3)
        assert {d["door"] for d in doors} == {"B1-main", "B1-garage"}
        for door in ("B1-main", "B1-garage"):
            assert (run / "tty" / door).is_symlink()
        # the test is the hub here: it answers the edge's "online" so that its outbox flows
        while not any(t == topics.state("demo", "b1-edge") and b'"online"' in p
                      for t, p, _ in list(collector.messages)):
            assert time.monotonic() < deadline, "the edge never said it is online"
            time.sleep(0.1)
        collector.publish(topics.ready("demo", "b1-edge"), b"")
        subprocess.run([str(bindir / "lintel"), "sim", "--data", str(run), "swipe", "--door",
                        "B1-main", "--card", "4242"], check=True, capture_output=True)
        deadline = time.monotonic() + 10
        events = []
        while not events and time.monotonic() < deadline:
            events = [parse_event(p) for t, p, _ in list(collector.messages)
                      if t == topics.event("demo", "b1-edge", "access")]
            time.sleep(0.1)
        collector.close()
        assert events and events[0].data.credential == "4242"  # type: ignore[union-attr]
        # decided at the door with no hub yet: no snapshot names the door
        assert events[0].data.reason == "unknown_door"  # type: ignore[union-attr]
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(20)
        broker.cleanup()
