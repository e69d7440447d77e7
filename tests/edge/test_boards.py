"""The boards' pages at the edge: rotation of the notices valid now, expiry by the edge's clock,
a fire or lockdown instruction replacing them, and the modbus-text family's GBK registers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from edge.boards import BoardSupervisor, ModbusTextBoard, emergency_page, idle_page
from edge.boards.modbus_text import gbk_registers, registers_text
from edge.boards.pages import Emergency
from edge.devices import DeviceSupervisor
from edge.sensors.loader import load_models
from wire.boards import BoardNotice

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


def _notice(n: int, title: str, until: datetime | None = None) -> BoardNotice:
    return BoardNotice(id=n, title_zh=title, title_en=f"en {n}", body_zh="", body_en="",
                       valid_from=NOW - timedelta(hours=1), valid_until=until)


def test_notices_rotate_expire_and_give_way_to_an_emergency() -> None:
    emergency: list[Emergency | None] = [None]
    boards = BoardSupervisor(DeviceSupervisor([], lambda d, e: None), lambda d, e: None,
                             clock=lambda: NOW, emergency=lambda: emergency[0], rotate_s=8)
    assert boards.page_now(NOW, 0.0) == idle_page()
    boards.set_notices([_notice(1, "停水", NOW + timedelta(minutes=5)), _notice(2, "停电")])
    assert [boards.page_now(NOW, t).notice for t in (0.0, 7.9, 8.0, 16.0)] == [1, 1, 2, 1]
    later = NOW + timedelta(minutes=5)  # notice 1 has expired: only 2 is left
    assert {boards.page_now(later, t).notice for t in (0.0, 8.0)} == {2}
    emergency[0] = "lockdown"
    page = boards.page_now(NOW, 0.0)
    assert page == emergency_page("lockdown") and page.emergency
    assert page.lines[0] == "紧急封闭 请留在室内" and page.lines[2] == "LOCKDOWN - stay indoors"
    emergency[0] = "fire"
    assert boards.page_now(NOW, 0.0).lines[0] == "火警！请走楼梯疏散"


def test_gbk_text_fills_registers_two_bytes_each_and_cuts_at_a_whole_character() -> None:
    words = gbk_registers("停水A", 3)
    assert words == [0xCDA3, 0xCBAE, 0x4100]  # 停 CDA3, 水 CBAE, 'A' then padding
    assert registers_text(words) == "停水A"
    assert registers_text(gbk_registers("一二三", 2)) == "一二"  # the third does not fit
    assert registers_text(gbk_registers("a一二", 2)) == "a一"  # never half a character


def test_a_page_is_written_lines_first_and_committed_by_its_sequence() -> None:
    family = ModbusTextBoard(load_models()["led-board-t192"])
    writes = family.writes(emergency_page("fire"), 7)
    assert [(t, a) for t, a, _ in writes] == [("holding", 16), ("holding", 48),
                                              ("holding", 80), ("holding", 112),
                                              ("holding", 1), ("holding", 0)]
    assert writes[-2][2] == [1] and writes[-1][2] == [7]
    assert family.shown({}) is None  # not polled yet
