"""The boards' pages at the edge: rotation of the notices valid now, expiry by the edge's clock,
a fire or lockdown instruction replacing them, and the modbus-text family's GBK registers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from edge.boards import BoardSupervisor, ModbusTextBoard, emergency_page, idle_page
from edge.boards.modbus_text import gbk_registers, registers_text
from edge.boards.pages import Emergency, cells, notice_pages, wrap
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


def test_a_long_notice_goes_on_over_pages_that_fit_the_boards_lines() -> None:
    """The t192's lines hold 24 cells (192 dots, a 16-dot row): the smoke notice's Chinese and
    English go on over four pages shown in turn, every line drawn within the board's width by
    the simulator's font, and nothing is cut."""
    from simulators.led_board import WIDTH, cjk_font

    family = ModbusTextBoard(load_models()["led-board-t192"])
    assert family.cells == 24
    body_zh = "101 室（1 层）烟感报警，保安正在前往处理。请做好从楼梯疏散的准备，勿乘电梯。"
    body_en = ("A smoke detector went off in unit 101 (floor 1). Security is on the way; be "
               "ready to leave by the stairs, not the lift.")
    notice = BoardNotice(id=9, title_zh="本楼烟感报警：101 室",
                         title_en="Smoke alarm in the building: unit 101", body_zh=body_zh,
                         body_en=body_en, valid_from=NOW - timedelta(hours=1))
    pages = notice_pages(notice, family.cells)
    assert len(pages) == 4 and all(p.notice == 9 for p in pages)
    font = cjk_font()
    assert all(cells(line) <= 24 and font.getlength(line) <= WIDTH
               for p in pages for line in p.lines)
    assert "".join(p.lines[0] + p.lines[1] for p in pages) == "本楼烟感报警：101 室" + body_zh
    assert " ".join(x for p in pages for x in p.lines[2:] if x) == (
        "Smoke alarm in the building: unit 101 " + body_en)

    boards = BoardSupervisor(DeviceSupervisor([], lambda d, e: None), lambda d, e: None,
                             clock=lambda: NOW, emergency=lambda: None, rotate_s=8)
    boards.set_notices([notice, _notice(2, "停电")])
    shown = [boards.page_now(NOW, t, family.cells) for t in range(0, 48, 8)]
    assert shown[0].notice == 2 and shown[1:5] == pages and shown[5].notice == 2
    # a wide board takes it on one page, one text written once on all four lines
    assert len(notice_pages(notice, 200)) == 1
    once = BoardNotice(id=3, title_zh="停水", title_en="停水", body_zh="明天 9-12 点" * 3,
                       body_en="明天 9-12 点" * 3, valid_from=NOW)
    assert [p.lines for p in notice_pages(once, 24)] == [
        ("停水", "明天 9-12 点明天 9-12 点", "明天 9-12 点", "")]


def test_wrap_breaks_english_between_words_and_cuts_only_a_word_longer_than_a_line() -> None:
    assert wrap("Water off tomorrow from 9 to 12", 12) == ["Water off", "tomorrow", "from 9 to 12"]
    assert wrap("a" * 30, 12) == ["a" * 12, "a" * 12, "a" * 6]
    assert wrap("停水通知：明天", 6) == ["停水通", "知：明", "天"]
    assert wrap("  ", 12) == []


def test_the_fixed_pages_fit_the_board_as_its_font_draws_them() -> None:
    from simulators.led_board import WIDTH, cjk_font

    font = cjk_font()
    for page in (idle_page(), emergency_page("fire"), emergency_page("lockdown")):
        assert all(font.getlength(line) <= WIDTH for line in page.lines), page.lines
