"""The hub as its own process (`lintel hub`), as it runs in a deployment: its pauses (a
permission compile of 100,000 credentials) do not stall an edge measured beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from types import TracebackType
from typing import Self


class HubProcess:
    """`with HubProcess({"database_url": ..., "mqtt_port": ...}) as hub:` then `hub.url`.

    The settings are HubSettings' fields, passed as LINTEL_HUB_* variables; the rest are the
    hub's defaults."""

    def __init__(self, settings: Mapping[str, object]) -> None:
        self.env = {**os.environ, **{f"LINTEL_HUB_{name.upper()}": str(value)
                                     for name, value in settings.items()}}
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> Self:
        self.proc = subprocess.Popen([sys.executable, "-m", "lintel.cli", "hub"], env=self.env,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the hub prints this line once it serves
        if not line.startswith("hub serving "):
            self.stop()
            raise RuntimeError(f"the hub did not start: {line!r}")
        self.url = line.split()[-1]
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
