"""The Vzenith AlarmInfoPlate push: read as the vendor documents it, refused with the field
named when it is not."""

from __future__ import annotations

import json

import pytest

from edge.drivers.lpr import VZENITH, PushError, format_names, push_format
from simulators.lpr import vzenith_push


def body(doc: object) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


def test_reads_the_documented_push() -> None:
    doc = vzenith_push("粤B·12345", colour="yellow", confidence=0.93)
    reading = VZENITH.parse(body(doc), "application/json")
    assert reading.plate == "粤B12345"
    assert (reading.colour, reading.confidence, reading.offline) == ("yellow", 0.93, False)
    assert reading.picture is not None and reading.picture[:2] == b"\xff\xd8"
    assert reading.camera_serial == "sim-lpr-0001" and reading.seen_at is not None


def test_answer_opens_with_info_ok_and_echoes_plateid() -> None:
    reading = VZENITH.parse(body(vzenith_push("粤B12345", picture=False)), "application/json")
    opened = json.loads(VZENITH.answer(reading, True).body)["Response_AlarmInfoPlate"]
    assert opened == {"info": "ok", "plateid": int(reading.reading_id or 0)}
    shut = json.loads(VZENITH.answer(reading, False).body)["Response_AlarmInfoPlate"]
    assert shut["info"] == "no"


def test_offline_record_is_answered_to_continue_never_to_open() -> None:
    reading = VZENITH.parse(body(vzenith_push("粤B12345", picture=False, offline=True)), "")
    answer = json.loads(VZENITH.answer(reading, True).body)["Response_AlarmInfoPlate"]
    assert "info" not in answer and answer["ContinuePushOffline"]["continue"] == 1


@pytest.mark.parametrize(("raw", "reason"), [
    (b"\xff\xfe", "not UTF-8"),
    (b"{not json", "not JSON"),
    (body({"AlarmGioIn": {}}), "AlarmInfoPlate is missing"),
    (body({"AlarmInfoPlate": {"result": {}}}), "PlateResult is missing"),
    (body({"AlarmInfoPlate": {"result": {"PlateResult": {"license": "_无_"}}}}),
     "no plate was recognised"),
    (body({"AlarmInfoPlate": {"result": {"PlateResult": {"license": "粤B1", "confidence": 300}}}}),
     "confidence 300 is not 0-100"),
    (body({"AlarmInfoPlate": {"result": {"PlateResult": {"license": "粤B1",
                                                         "imageFile": "***"}}}}),
     "imageFile is not base64"),
])
def test_garbled_push_names_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(PushError, match=reason):
        VZENITH.parse(raw, "application/json")


def test_registry_names_the_known_formats() -> None:
    assert "vzenith" in format_names()
    with pytest.raises(PushError, match="unknown push format 'hik'"):
        push_format("hik")
