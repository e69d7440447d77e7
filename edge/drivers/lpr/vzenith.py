"""Vzenith (臻识) plate cameras' HTTP push, "AlarmInfoPlate" JSON, as their public HTTP
protocol document describes it.

The camera POSTs `{"AlarmInfoPlate": {"serialno", "ipaddr", "result": {"PlateResult":
{"license", "colorType", "confidence" (0-100), "timeStamp": {"Timeval": {"sec", "usec"}},
"plateid", "isoffline", "imageFile" (base64 JPEG)}}}}`; the answer
`{"Response_AlarmInfoPlate": {"info": "ok"}}` pulses the camera's relay (the barrier).
An online reading's answer echoes its `plateid`; an offline one (stored while the server was
unreachable, `isoffline` 1) is answered with `ContinuePushOffline` so the camera sends the
next, and never opens: the car is long gone.

The camera's heartbeat, set to "comet" polling (comet 轮询: the camera keeps posting its
heartbeat and acts on what the server's answer carries), is answered
`{"Response_Heartbeat": {"info": "no"}}`, or `"info": "ok"` to pulse the relay when a guard
opened the lane: the only way to work the relay at will through the HTTP push protocol.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from edge.drivers.lpr.errors import PushError
from edge.drivers.lpr.formats import register
from edge.drivers.lpr.models import PlateReading, PushAnswer

# colorType in the document: 0 unknown, 1 blue, 2 yellow, 3 white, 4 black, 5 green
COLOURS = {1: "blue", 2: "yellow", 3: "white", 4: "black", 5: "green"}
NO_PLATE = "_无_"
MAX_PICTURE = 4 * 1024 * 1024


def _field(obj: Any, key: str, path: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise PushError(f"{path}{key} is missing")
    return obj[key]


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PushError(f"{path} is not a number: {value!r}")
    try:
        return int(value)
    except ValueError:
        raise PushError(f"{path} is not a number: {value!r}") from None


class VzenithFormat:
    name = "vzenith"

    def parse(self, body: bytes, content_type: str) -> PlateReading:
        try:
            doc = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise PushError(f"body is not UTF-8: {exc.reason} at byte {exc.start}") from exc
        except json.JSONDecodeError as exc:
            raise PushError(f"body is not JSON: {exc.msg} at {exc.pos}") from exc
        alarm = _field(doc, "AlarmInfoPlate", "")
        result = _field(_field(alarm, "result", "AlarmInfoPlate."), "PlateResult",
                        "AlarmInfoPlate.result.")
        where = "AlarmInfoPlate.result.PlateResult."
        plate = _field(result, "license", where)
        if not isinstance(plate, str) or not plate.strip():
            raise PushError(f"{where}license is not a plate: {plate!r}")
        if plate == NO_PLATE:
            raise PushError(f"{where}license is {NO_PLATE}: no plate was recognised")
        confidence = _int(result.get("confidence", 0), where + "confidence")
        if not 0 <= confidence <= 100:
            raise PushError(f"{where}confidence {confidence} is not 0-100")
        colour = COLOURS.get(_int(result.get("colorType", 0), where + "colorType"))
        seen_at = None
        stamp = result.get("timeStamp")
        if isinstance(stamp, dict) and isinstance(stamp.get("Timeval"), dict):
            sec = _int(stamp["Timeval"].get("sec", 0), where + "timeStamp.Timeval.sec")
            if sec > 0:
                seen_at = datetime.fromtimestamp(sec, UTC)
        picture = None
        image = result.get("imageFile")
        if image:
            if not isinstance(image, str) or len(image) > MAX_PICTURE * 4 // 3 + 4:
                raise PushError(f"{where}imageFile is not base64 text under {MAX_PICTURE} bytes")
            try:
                picture = base64.b64decode(image, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise PushError(f"{where}imageFile is not base64: {exc}") from exc
        plate_id = result.get("plateid")
        serial = alarm.get("serialno")
        return PlateReading(
            plate="".join(plate.split()).replace("·", ""),
            colour=colour,
            confidence=confidence / 100,
            seen_at=seen_at,
            camera_serial=serial if isinstance(serial, str) else None,
            reading_id=None if plate_id is None else str(_int(plate_id, where + "plateid")),
            offline=_int(result.get("isoffline", 0), where + "isoffline") == 1,
            picture=picture,
        )

    def answer(self, reading: PlateReading, open_barrier: bool) -> PushAnswer:
        response: dict[str, Any]
        if reading.offline:
            response = {"ContinuePushOffline": {
                "plateid": int(reading.reading_id or 0), "continue": 1}}
        else:
            response = {"info": "ok" if open_barrier else "no"}
            if reading.reading_id is not None:
                response["plateid"] = int(reading.reading_id)
        return PushAnswer(body=json.dumps({"Response_AlarmInfoPlate": response},
                                          ensure_ascii=False).encode())

    def heartbeat(self, body: bytes) -> PushAnswer | None:
        # the body says little (a counter, the camera's serial); an empty one is accepted
        if body.strip():
            try:
                doc = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise PushError(f"heartbeat body is not JSON: {exc}") from exc
            if not isinstance(doc, dict):
                raise PushError("heartbeat body is not a JSON object")
        return self.heartbeat_answer(False)

    def heartbeat_answer(self, open_barrier: bool) -> PushAnswer:
        return PushAnswer(body=json.dumps(
            {"Response_Heartbeat": {"info": "ok" if open_barrier else "no"}}).encode())


VZENITH = register(VzenithFormat())
