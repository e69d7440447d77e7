"""`lintel sim meters`: a riser on a pty that a real DL/T 645 line reads."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from decimal import Decimal

import pytest

from edge.drivers.dlt645 import Dlt645Line, LineConfig, MeterConfig

pytestmark = pytest.mark.integration


async def test_the_simulated_riser_answers_a_real_line() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lintel.cli", "sim", "meters", "--meter", "000000000101:1234.5",
        "--riser", "2", stdout=asyncio.subprocess.PIPE, env=dict(os.environ))
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            info = json.loads(await proc.stdout.readline())
        assert [m["number"] for m in info["meters"]] == [
            "000000000101", "100000000001", "100000000002"]
        configs = [MeterConfig(name=m["number"], address=m["number"], interval_s=3600)
                   for m in info["meters"]]
        async with Dlt645Line(LineConfig(port=info["port"]), configs, lambda e: None) as line:
            values = await line.read("000000000101")
            assert Decimal("1234.50") <= values["energy_kwh"] < Decimal("1234.60")
            assert (await line.read("100000000002"))["energy_kwh"] >= Decimal("1001")
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await proc.wait() == 0


def test_a_bad_meter_number_is_refused_naming_it() -> None:
    import subprocess

    done = subprocess.run([sys.executable, "-m", "lintel.cli", "sim", "meters", "--meter", "12"],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert "meter address '12' is not 12 decimal digits" in done.stderr
