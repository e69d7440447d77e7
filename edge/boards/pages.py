"""What a board shows: a page of up to four lines (Chinese first, then English), normal or
emergency. Emergencies replace every notice until they clear, with an instruction in both
languages."""

from __future__ import annotations

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
    "fire": ("火警！请走楼梯疏散", "切勿乘坐电梯", "FIRE ALARM - leave by the stairs",
             "Do not use the lifts"),
    "lockdown": ("紧急封闭 请留在室内", "听从保安人员指挥", "LOCKDOWN - stay indoors",
                 "Follow the guards' instructions"),
}


def emergency_page(kind: Emergency) -> Page:
    return Page(_EMERGENCY[kind], emergency=True)


def idle_page() -> Page:
    """Nothing to announce: the board says so rather than showing a stale notice."""
    return Page(("欢迎回家", "", "Welcome home", ""))


def notice_page(notice: BoardNotice) -> Page:
    """Title and body in Chinese, then in English; a text written once (the same in both
    languages) takes two lines instead of four."""
    if notice.title_zh == notice.title_en and notice.body_zh == notice.body_en:
        return Page((notice.title_zh, notice.body_zh, "", ""), notice=notice.id)
    return Page((notice.title_zh, notice.body_zh, notice.title_en, notice.body_en),
                notice=notice.id)
