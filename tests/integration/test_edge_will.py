"""The `state` will: an edge that dies without a word is marked offline at the hub."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.mqtt import Collector
from tests.support.services import MosquittoServer
from wire import EdgeState, topics

pytestmark = pytest.mark.integration


def test_killed_edge_is_marked_offline_by_its_will(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    config = tmp_path / "edge.yaml"
    config.write_text(
        f"site: demo\nedge: lonely\ndata_dir: {tmp_path / 'data'}\n"
        f"mqtt: {{port: {mosquitto.port}, username: lonely}}\n"
    )
    watcher = Collector("127.0.0.1", mosquitto.port, topics.state("demo", "lonely"))
    edge = subprocess.Popen([sys.executable, "-m", "lintel.cli", "edge", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        online = watcher.wait_for(1, timeout=20)
        assert online, "the edge never published its state"
        assert EdgeState.model_validate_json(online[-1][1]).status == "online"
        edge.send_signal(signal.SIGKILL)  # no goodbye: only the broker can tell
        edge.wait(timeout=10)
        start = time.monotonic()
        states = watcher.wait_for(2, timeout=10)
        assert len(states) >= 2
        last = EdgeState.model_validate_json(states[-1][1])
        assert last.status == "offline"
        assert time.monotonic() - start < 5
    finally:
        if edge.poll() is None:
            edge.kill()
        watcher.close()

    # The will is retained: a hub that connects later still learns the edge is offline.
    late = Collector("127.0.0.1", mosquitto.port, topics.state("demo", "lonely"), client_id="late")
    retained = late.wait_for(1, timeout=15)
    late.close()
    assert retained and retained[0][2] is True
    assert json.loads(retained[0][1])["status"] == "offline"
