"""The "modbus-text" family: a text LED board over Modbus/TCP (firmware-configs/led-board-*.yaml,
whose `source:` names the public maps it follows).

A page is four lines of GBK text (what Chinese controllers' built-in dot fonts draw), two bytes
per holding register, high byte first, zero-padded, written with function 16; then the mode
(0 normal, 1 emergency) and last the page's sequence number, which makes the board latch the
lines. The board reports the sequence it shows and its dot matrix (input registers, one bit a
dot, row by row, most significant bit first): `shown` turns that into a PNG, dot for dot."""

from __future__ import annotations

import cv2
import numpy as np

from edge.boards.family import Shown
from edge.boards.pages import LINES, Page
from edge.sensors.device import Values, Write
from edge.sensors.models import DeviceModel


def gbk_registers(text: str, registers: int) -> list[int]:
    """`text` as GBK in `registers` words (two bytes each, high first), cut at a whole
    character and zero-padded; a character GBK lacks becomes '?'."""
    data = b""
    for char in text:
        encoded = char.encode("gbk", errors="replace")
        if len(data) + len(encoded) > registers * 2:
            break
        data += encoded
    data = data.ljust(registers * 2, b"\0")
    return [data[i] << 8 | data[i + 1] for i in range(0, len(data), 2)]


def registers_text(words: list[int]) -> str:
    """The inverse of gbk_registers (what the board latched)."""
    data = b"".join(w.to_bytes(2, "big") for w in words).rstrip(b"\0")
    return data.decode("gbk", errors="replace")


class ModbusTextBoard:
    """One board of a `modbus-text` model: `width` x `height` dots."""

    def __init__(self, model: DeviceModel, width: int = 192, height: int = 64) -> None:
        self.width, self.height = width, height
        self._seq = model.register("page_seq").address
        self._mode = model.register("page_mode").address
        self._lines = [model.register(f"line_{i + 1}") for i in range(LINES)]
        self._shown = model.register("shown_seq").address
        frames = sorted((r for r in model.registers if r.name.startswith("frame_")),
                        key=lambda r: r.address)
        self._frame = frames[0].address
        words = sum(r.count for r in frames)
        if words * 16 != width * height:
            raise ValueError(f"{model.model}: {words} frame registers do not hold "
                             f"{width} x {height} dots")
        self._words = words
        # a line is height / LINES dots high; its font draws a Chinese character that square
        # and a Latin one half as wide, so a line holds width / (row / 2) cells, and no more
        # than its registers' bytes (GBK: one a cell)
        half = height // LINES // 2
        self.cells = min(width // half, min(reg.count * 2 for reg in self._lines))

    def writes(self, page: Page, seq: int) -> list[Write]:
        out: list[Write] = []
        for reg, line in zip(self._lines, page.lines, strict=True):
            out.append(("holding", reg.address, list(gbk_registers(line, reg.count))))
        out.append(("holding", self._mode, [1 if page.emergency else 0]))
        out.append(("holding", self._seq, [seq & 0xFFFF]))  # last: the board latches the page
        return out

    def shown(self, values: Values) -> Shown | None:
        seq = values.get(("input", self._shown))
        words: list[int] = []
        for i in range(self._words):
            word = values.get(("input", self._frame + i))
            if word is None:
                return None
            words.append(int(word))
        if seq is None:
            return None
        raw = np.array(words, dtype=">u2").view(np.uint8)
        dots = np.unpackbits(raw).reshape(self.height, self.width)
        ok, png = cv2.imencode(".png", (dots * 255).astype(np.uint8))
        if not ok:  # a numpy array of the right shape always encodes
            raise ValueError("the board's dots did not encode as PNG")
        return Shown(int(seq), png.tobytes())


__all__ = ["ModbusTextBoard", "gbk_registers", "registers_text"]
