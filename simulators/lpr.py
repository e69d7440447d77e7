"""A Vzenith-style plate camera: pushes a recognition (with a rendered picture of the plate)
to an edge lane's URL in the camera's own JSON, and reads the barrier's answer."""

from __future__ import annotations

import base64
import itertools
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

COLOUR_TYPES = {"blue": 1, "yellow": 2, "white": 3, "black": 4, "green": 5}
_PLATE_BGR = {"blue": (160, 60, 0), "yellow": (0, 200, 230), "white": (240, 240, 240),
              "black": (20, 20, 20), "green": (80, 200, 80)}
_ids = itertools.count(1)


def plate_picture(plate: str, colour: str = "blue") -> bytes:
    """A JPEG of the plate (OpenCV's font draws no Chinese: the province shows as '?')."""
    image = np.full((120, 440, 3), _PLATE_BGR.get(colour, (160, 60, 0)), np.uint8)
    text = "".join(c if c.isascii() else "?" for c in plate)
    ink = (0, 0, 0) if colour in ("yellow", "white", "green") else (255, 255, 255)
    cv2.putText(image, text, (18, 85), cv2.FONT_HERSHEY_SIMPLEX, 2.0, ink, 5, cv2.LINE_AA)
    ok, jpeg = cv2.imencode(".jpg", image)
    if not ok:
        raise RuntimeError("could not encode the plate picture")
    return bytes(jpeg)


def vzenith_push(plate: str, *, colour: str = "blue", confidence: float = 0.95,
                 picture: bool = True, serial: str = "sim-lpr-0001",
                 offline: bool = False) -> dict[str, Any]:
    """The body a Vzenith camera POSTs for one recognition."""
    now = time.time()
    result: dict[str, Any] = {
        "license": plate, "colorType": COLOUR_TYPES.get(colour, 0),
        "confidence": round(confidence * 100), "direction": 0, "triggerType": 8, "type": 1,
        "plateid": next(_ids), "isoffline": 1 if offline else 0,
        "location": {"RECT": {"left": 100, "top": 300, "right": 380, "bottom": 380}},
        "timeStamp": {"Timeval": {"sec": int(now), "usec": int(now % 1 * 1e6)}},
    }
    if picture:
        jpeg = plate_picture(plate, colour)
        result["imageFile"] = base64.b64encode(jpeg).decode()
        result["imageFileLen"] = len(jpeg)
    return {"AlarmInfoPlate": {"channel": 0, "deviceName": "IVS", "ipaddr": "127.0.0.1",
                               "serialno": serial, "result": {"PlateResult": result}}}


@dataclass(frozen=True)
class PushResult:
    status: int
    opened: bool  # the answer's info was "ok": the camera's relay raises the barrier
    body: dict[str, Any]


def push_plate(url: str, plate: str, *, user: str = "camera", secret: str,
               colour: str = "blue", confidence: float = 0.95, picture: bool = True,
               timeout_s: float = 5.0) -> PushResult:
    """POST one recognition to a lane's URL (`http://edge:8088/lpr/<lane>`)."""
    body = json.dumps(vzenith_push(plate, colour=colour, confidence=confidence,
                                   picture=picture), ensure_ascii=False).encode()
    auth = base64.b64encode(f"{user}:{secret}".encode()).decode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Basic {auth}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    doc = json.loads(raw or b"{}")
    info = doc.get("Response_AlarmInfoPlate", {}).get("info")
    return PushResult(status=status, opened=info == "ok", body=doc)
