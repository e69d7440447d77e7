"""The demo's running commentary (lintel.demo_feed): an alarm reads as the console shows it."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from hub.live import LiveBus, LiveItem
from hub.texts.render import marker
from lintel.demo_feed import DoorFeed
from tests.support.waiting import until


async def test_an_alarm_line_gives_the_message_in_words_not_its_text_code(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lintel.demo")
    bus = LiveBus()
    message = marker("alarm_msg.camera_motion", {"device": "B1-cam-lobby", "zone": "lobby"},
                     "motion")
    sessions: Any = None  # an alarm's line reads nothing from the registry
    async with DoorFeed(bus, sessions):
        await bus.publish([LiveItem("alarms", {"event": "raised", "alarm": {
            "severity": "minor", "type": "camera_motion", "message": message}},
            site_id="demo")])
        line = await until(lambda: [r.getMessage() for r in caplog.records
                                    if r.name == "lintel.demo"], "the alarm's line")
    assert line[0].startswith("alarm raised: minor camera_motion, "), line
    assert "B1-cam-lobby" in line[0] and "$text" not in line[0], line
