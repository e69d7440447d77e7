"""The camera simulator: rendered files OpenCV reads back, and `lintel sim camera`."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from lintel.cli import main
from simulators.camera_scene import Step, qr_image


def test_lintel_sim_camera_render_writes_a_readable_video(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "scene.avi"
    assert main(["sim", "camera", "render", "--out", str(out), "walk 6", "qr 4 HELLO-GATE"]) == 0
    assert "wrote 10 frames" in capsys.readouterr().out
    capture = cv2.VideoCapture(str(out))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == 10 and frames[0].shape == (480, 640, 3)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(frames[-1])
    assert text == "HELLO-GATE"  # the code survives the video's JPEG compression


def test_a_bad_step_is_refused_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "camera", "render", "--out", "/nonexistent/x.avi", "jump 3"]) == 2
    assert "step 'jump 3'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="qr needs the code's text"):
        Step.parse("qr 10")
    with pytest.raises(ValueError, match="gain must be"):
        Step.parse("light 10 9")


def test_qr_images_decode_to_their_text() -> None:
    text = "x" * 120
    assert cv2.QRCodeDetector().detectAndDecode(qr_image(text))[0] == text
