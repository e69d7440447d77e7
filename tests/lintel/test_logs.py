"""What a person reads by default, and what `lintel -v` adds."""

from __future__ import annotations

import io
import logging

import pytest

from lintel.logs import FORMAT, PlumbingToDebug

LINES = [
    ("alembic.runtime.plugins", "setup plugin alembic.autogenerate.schemas"),
    ("alembic.runtime.migration", "Context impl SQLiteImpl."),
    ("alembic.runtime.migration", "Will assume non-transactional DDL."),
    ("aiohttp.access", '127.0.0.1 "POST /api/v1/auth/login HTTP/1.1" 200'),
    ("alembic.runtime.migration", "Running upgrade 0001 -> 0002, devices"),
    ("hub.service", "hub serving http://127.0.0.1:8080"),
    ("lintel.demo", "B1-main 1号楼 正门: card 1001 (张伟) granted"),
]


def _shown(verbose: bool, level: int = logging.INFO) -> str:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(PlumbingToDebug(verbose))
    for name, message in LINES:
        handler.handle(logging.makeLogRecord({"name": name, "msg": message, "levelno": level,
                                              "levelname": logging.getLevelName(level)}))
    return out.getvalue()


def test_plumbing_is_hidden_and_news_is_shown_by_default() -> None:
    shown = _shown(verbose=False)
    assert "setup plugin" not in shown and "Context impl" not in shown
    assert "Will assume" not in shown and "aiohttp.access" not in shown
    assert "INFO alembic.runtime.migration: Running upgrade 0001 -> 0002" in shown
    assert "INFO hub.service: hub serving" in shown
    assert "INFO lintel.demo: B1-main 1号楼 正门: card 1001 (张伟) granted" in shown


def test_verbose_shows_the_plumbing_at_debug() -> None:
    shown = _shown(verbose=True)
    assert "DEBUG alembic.runtime.plugins: setup plugin" in shown
    assert "DEBUG aiohttp.access: 127.0.0.1" in shown
    assert "DEBUG alembic.runtime.migration: Context impl" in shown
    assert "INFO hub.service: hub serving" in shown


@pytest.mark.parametrize("level", [logging.WARNING, logging.ERROR])
def test_plumbing_that_goes_wrong_is_shown(level: int) -> None:
    shown = _shown(verbose=False, level=level)
    assert f"{logging.getLevelName(level)} aiohttp.access" in shown
    assert f"{logging.getLevelName(level)} alembic.runtime.plugins" in shown
