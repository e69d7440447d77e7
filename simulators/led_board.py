"""An LED notice board with a Modbus/TCP text controller (firmware-configs/led-board-t192.yaml).

Serves the model's registers like every simulated device; when the edge writes the page
sequence (the last write of a page) the board latches the four GBK text lines, draws them with
a CJK dot font into its 192 x 64 single-colour matrix (Pillow; an emergency page lit, text
dark) and publishes the dots in its frame registers, the sequence in `shown_seq`. `png` is
what the board shows as an image (what the console shows, read back by the edge); `png_path`
writes it to a file at each latch. `fail(bit)` sets a status fault (0 LED module, 1 power)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from edge.boards.modbus_text import registers_text
from edge.sensors.models import DeviceModel
from simulators.modbus_devices import ModbusDeviceSimulator
from simulators.modbus_line import Table

WIDTH, HEIGHT, ROW = 192, 64, 16
# Debian's CJK fonts, in order of preference (make test installs fonts-wqy-microhei)
FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
         "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
         "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def cjk_font(size: int = 14) -> ImageFont.FreeTypeFont:
    for path in FONTS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    raise FileNotFoundError(f"no CJK font: install fonts-wqy-microhei (looked for {FONTS})")


def draw_page(lines: list[str], emergency: bool) -> np.ndarray:
    """The board's dots (HEIGHT x WIDTH, 1 lit) for four text lines, 16 dots a line."""
    image = Image.new("L", (WIDTH, HEIGHT), 255 if emergency else 0)
    pen = ImageDraw.Draw(image)
    font = cjk_font()
    for i, line in enumerate(lines[:HEIGHT // ROW]):
        pen.text((1, i * ROW + 1), line, font=font, fill=0 if emergency else 255)
    return (np.asarray(image) >= 128).astype(np.uint8)


class LedBoardSimulator(ModbusDeviceSimulator):
    """`async with LedBoardSimulator(model, name=…)`: a board on 127.0.0.1:`tcp_port`."""

    def __init__(self, model: DeviceModel, *, name: str,
                 transport: Literal["rtu", "tcp"] = "tcp", unit_id: int | None = None,
                 png_path: Path | None = None) -> None:
        super().__init__(model, name=name, transport=transport, unit_id=unit_id)
        self.png_path = png_path
        self.lines: list[str] = ["", "", "", ""]
        self.emergency = False
        self.png = b""
        self.latched = 0
        self._latch()

    def written(self, table: Table, address: int, values: list[int | bool]) -> None:
        super().written(table, address, values)
        seq = self.model.register("page_seq").address
        if table == "holding" and address <= seq < address + len(values):
            self._latch()

    def _latch(self) -> None:
        holding = self.tables["holding"]
        self.lines = []
        for i in range(4):
            reg = self.model.register(f"line_{i + 1}")
            self.lines.append(registers_text(
                [int(w) for w in holding[reg.address:reg.address + reg.count]]))
        self.emergency = bool(holding[self.model.register("page_mode").address])
        dots = draw_page(self.lines, self.emergency)
        words = np.packbits(dots.reshape(-1)).view(">u2").astype(int).tolist()
        frame = self.model.register("frame_00").address
        self.tables["input"][frame:frame + len(words)] = words
        self.set_raw("shown_seq", int(holding[self.model.register("page_seq").address]))
        buf = io.BytesIO()
        Image.fromarray((dots * 255).astype(np.uint8)).save(buf, format="PNG")
        self.png = buf.getvalue()
        self.latched += 1
        if self.png_path is not None:
            self.png_path.write_bytes(self.png)

    @property
    def text(self) -> str:
        return " / ".join(line for line in self.lines if line)

    def fail(self, bit: int, active: bool = True) -> None:
        """A status fault: 0 LED module, 1 power supply, 2 over temperature."""
        status = int(self.raw("board_status"))
        self.set_raw("board_status", status | 1 << bit if active else status & ~(1 << bit))


__all__ = ["LedBoardSimulator", "cjk_font", "draw_page"]
