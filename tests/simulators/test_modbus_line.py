"""Several simulated units on one Modbus line behave as devices on a real RS-485 bus do,
checked with a master written by others (`mbpoll`, Debian) and with pymodbus."""

from __future__ import annotations

import asyncio
import os
import tty
from collections.abc import AsyncIterator

import pytest
from pymodbus import FramerType, ModbusException
from pymodbus.client import AsyncModbusSerialClient

from edge.sensors.loader import load_models
from edge.sensors.models import SerialSettings
from simulators.modbus_devices import ModbusDeviceSimulator
from simulators.modbus_line import ModbusLineSimulator

pytestmark = pytest.mark.integration
MODELS = load_models()
PTY = SerialSettings(baudrate=9600, parity="N")  # Linux ptys refuse parity bits


class Line:
    def __init__(self, line: ModbusLineSimulator, vvvf: ModbusDeviceSimulator,
                 mrl: ModbusDeviceSimulator) -> None:
        self.line, self.vvvf, self.mrl = line, vvvf, mrl
        assert line.port is not None
        self.port: str = line.port


@pytest.fixture
async def line() -> AsyncIterator[Line]:
    vvvf = ModbusDeviceSimulator(MODELS["elevator-vvvf-a"], name="lift-a", unit_id=1)
    mrl = ModbusDeviceSimulator(MODELS["elevator-mrl-b"], name="lift-b", unit_id=2)
    async with ModbusLineSimulator([vvvf, mrl], transport="rtu", serial=PTY) as sim:
        yield Line(sim, vvvf, mrl)


async def mbpoll(port: str, unit: int, *args: str, write: int | None = None
                 ) -> tuple[int, str, str]:
    """One mbpoll request (0-based addresses, one poll, 0.5 s timeout): a read, or `write`."""
    value = [] if write is None else [str(write)]
    proc = await asyncio.create_subprocess_exec(
        "mbpoll", "-m", "rtu", "-b", "9600", "-P", "none", "-0", "-1", "-o", "0.5",
        "-a", str(unit), *args, port, *value,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(15):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_mbpoll_reads_each_unit_on_one_line(line: Line) -> None:
    line.vvvf.set("floor", 7)
    line.mrl.set("floor", 3)
    rc, out, _ = await mbpoll(line.port, 1, "-t", "4", "-r", "0")
    assert rc == 0 and "[0]: \t7" in out
    rc, out, _ = await mbpoll(line.port, 2, "-t", "3", "-r", "100")
    assert rc == 0 and "[100]: \t6" in out  # mrl-b counts from B2: raw = floor + 3


async def test_mbpoll_wrong_unit_id_is_not_answered(line: Line) -> None:
    rc, out, err = await mbpoll(line.port, 9, "-t", "4", "-r", "0")
    assert rc != 0
    assert "timed out" in err and "[0]" not in out


async def test_mbpoll_write_to_a_read_only_register_is_refused(line: Line) -> None:
    # service_mode (holding 6) is status: the model does not mark it writable
    rc, _, err = await mbpoll(line.port, 1, "-t", "4", "-r", "6", write=3)
    assert rc != 0 and "Illegal data address" in err
    assert line.vvvf.raw("service_mode") == 0 and line.vvvf.refused == 1
    # a coil of the other model between its floor block and its recall coil: no register
    rc, _, err = await mbpoll(line.port, 2, "-t", "0", "-r", "30", write=1)
    assert rc != 0 and "Illegal data address" in err
    # floor_enable is writable: accepted, and only by the unit addressed
    rc, out, _ = await mbpoll(line.port, 1, "-t", "4", "-r", "21", write=5)
    assert rc == 0 and "Written 1 references" in out
    assert line.vvvf.raw("floor_enable") == 5 and line.vvvf.writes == [("holding", 21, [5])]
    assert line.mrl.writes == []


def _crc(frame: bytes) -> bytes:
    crc = 0xFFFF
    for byte in frame:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc.to_bytes(2, "little")


async def test_broadcast_is_acted_on_and_answered_by_none(line: Line) -> None:
    fd = os.open(line.port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        tty.setraw(fd)
        # unit 0, function 06 (write single register), holding 21 = 9
        frame = bytes([0, 6, 0, 21, 0, 9])
        os.write(fd, frame + _crc(frame))
        await asyncio.sleep(0.5)
        with pytest.raises(BlockingIOError):
            os.read(fd, 256)
    finally:
        os.close(fd)
    assert line.vvvf.raw("floor_enable") == 9  # the unit with that register acted on it
    assert line.mrl.writes == []  # the other has no such writable register: nothing changed


async def test_silent_unit_and_exceptions_through_pymodbus(line: Line) -> None:
    client = AsyncModbusSerialClient(line.port, framer=FramerType.RTU, baudrate=9600,
                                     timeout=0.3, retries=0)
    await client.connect()
    try:
        line.mrl.silent = True
        with pytest.raises(ModbusException):
            await client.read_input_registers(100, count=1, device_id=2)
        reply = await client.read_holding_registers(0, count=1, device_id=1)
        assert not reply.isError() and reply.registers == [1]
        refused = await client.write_register(0, 4, device_id=1)  # the floor a car reports
        assert refused.isError() and refused.exception_code == 2
        assert line.vvvf.raw("floor") == 1
    finally:
        client.close()


async def test_two_units_at_one_address_are_refused() -> None:
    a = ModbusDeviceSimulator(MODELS["elevator-vvvf-a"], name="a", unit_id=4)
    b = ModbusDeviceSimulator(MODELS["elevator-mrl-b"], name="b", unit_id=4)
    with pytest.raises(ValueError, match="share unit id 4"):
        ModbusLineSimulator([a, b])
