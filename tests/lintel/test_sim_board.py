"""`lintel sim board`: an LED board a real Modbus client writes a page to, drawn as a PNG."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from pymodbus.client import AsyncModbusTcpClient

from edge.boards import ModbusTextBoard, emergency_page
from edge.sensors.loader import load_models

pytestmark = pytest.mark.integration


async def test_a_page_written_over_modbus_is_drawn_into_the_boards_png(tmp_path: Path) -> None:
    png = tmp_path / "board.png"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lintel.cli", "sim", "board", "--png", str(png),
        stdout=asyncio.subprocess.PIPE, env=dict(os.environ))
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            info = json.loads(await proc.stdout.readline())
        assert info["model"] == "led-board-t192"
        family = ModbusTextBoard(load_models()["led-board-t192"])
        client = AsyncModbusTcpClient("127.0.0.1", port=info["tcp_port"])
        await client.connect()
        try:
            for _table, address, values in family.writes(emergency_page("fire"), 3):
                reply = await client.write_registers(address, [int(v) for v in values])
                assert not reply.isError()
            shown = await client.read_input_registers(0, count=1)
            assert shown.registers == [3]
        finally:
            client.close()
        dots = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
        assert dots.shape == (64, 192)
        assert np.mean(dots > 127) > 0.5  # an emergency page: lit background, dark text
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await proc.wait() == 0
