"""VictoriaMetrics (Debian's `victoria-metrics`): a real server for the InfluxDB sink's
line protocol (/api/v2/write), read back through /api/v1/export."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.services import _find, free_port, wait_for_port


class VictoriaMetricsServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="lintel-vm-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = _find("victoria-metrics", "/usr/bin")
        self.log = open(self.dir / "victoria-metrics.log", "wb")  # noqa: SIM115 (lives with proc)
        self.proc = subprocess.Popen(
            [binary, f"-httpListenAddr=127.0.0.1:{self.port}",
             f"-storageDataPath={self.dir / 'data'}", "-retentionPeriod=100y"],
            stdout=self.log, stderr=self.log)
        wait_for_port(self.port, timeout=20)

    def export(self, match: str) -> list[dict[str, Any]]:
        """Every series matching `match`, flushed first so fresh writes are visible."""
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=5).close()
        query = urllib.parse.urlencode({"match[]": match})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=5) as resp:
            return [json.loads(line) for line in resp.read().decode().splitlines() if line]

    def export_until(self, match: str, series: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.export(match)
            if len(found) >= series or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def cleanup(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
