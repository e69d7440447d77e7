"""What a board shows: a page of up to four lines (Chinese first, then English), normal or
emergency. Emergencies replace every notice until they clear, with an instruction in both
languages."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

from wire.boards import BoardNotice

Emergency = Literal["fire", "lockdown"]
LINES = 4


@dataclass(frozen=True, slots=True)
class Page:
    lines: tuple[str, ...]
    emergency: bool = False
    notice: int | None = None  # the hub's notice id, for a notice's page

    @property
    def text(self) -> str:
        return " / ".join(line for line in self.lines if line)


_EMERGENCY = {
    "fire": ("火警！请走楼梯疏散", "切勿乘坐电梯", "FIRE! Leave by the stairs",
             "Do not use the lifts"),
    "lockdown": ("紧急封闭 请留在室内", "听从保安人员指挥", "LOCKDOWN - stay indoors",
                 "Follow guards' orders"),
}


def emergency_page(kind: Emergency) -> Page:
    return Page(_EMERGENCY[kind], emergency=True)


def idle_page() -> Page:
    """Nothing to announce: the board says so rather than showing a stale notice."""
    return Page(("欢迎回家", "", "Welcome home", ""))


def cells(text: str) -> int:
    """How wide `text` is on a board, in half-width cells (a Chinese character takes two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` cells: English breaks between words where it can,
    Chinese anywhere; no line starts with a space."""
    out: list[str] = []
    line = ""
    for word in _words(" ".join(text.split())):
        if cells(line + word) <= width:
            line += word
            continue
        if line.strip():
            out.append(line.rstrip())
        line = word.lstrip()
        while cells(line) > width:  # a word longer than a line is cut
            cut = _fit(line, width)
            out.append(line[:cut])
            line = line[cut:]
    if line.strip():
        out.append(line.rstrip())
    return out


def _words(text: str) -> list[str]:
    """Pieces a line may break after: a word with its space, or one wide character."""
    pieces: list[str] = []
    for char in text:
        wide = cells(char) == 2
        if pieces and not wide and cells(pieces[-1][-1]) == 1 and not pieces[-1].endswith(" "):
            pieces[-1] += char
        else:
            pieces.append(char)
    return pieces


def _fit(text: str, width: int) -> int:
    used = 0
    for i, char in enumerate(text):
        used += cells(char)
        if used > width:
            return max(1, i)
    return len(text)


def notice_pages(notice: BoardNotice, width: int) -> list[Page]:
    """The notice in Chinese on the upper two lines and in English on the lower two, title
    then body, each line at most `width` cells; what does not fit goes on over pages, shown in
    turn (nothing is cut). A text written once (the same in both languages) uses all four."""
    if notice.title_zh == notice.title_en and notice.body_zh == notice.body_en:
        block = wrap(notice.title_zh, width) + wrap(notice.body_zh, width)
        return [Page(tuple((block[i:i + LINES] + [""] * LINES)[:LINES]), notice=notice.id)
                for i in range(0, max(1, len(block)), LINES)]
    half = LINES // 2
    zh = wrap(notice.title_zh, width) + wrap(notice.body_zh, width)
    en = wrap(notice.title_en, width) + wrap(notice.body_en, width)
    count = max(1, -(-len(zh) // half), -(-len(en) // half))
    return [Page(tuple((zh[i:i + half] + [""] * half)[:half] + (en[i:i + half] + [""] * half)[:half]),
                 notice=notice.id)
            for i in range(0, count * half, half)]


def notice_page(notice: BoardNotice, width: int = 10_000) -> Page:
    """The first page of a notice (all of it on a board wide enough)."""
    return notice_pages(notice, width)[0]
