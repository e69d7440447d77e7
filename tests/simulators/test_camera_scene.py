"""The camera simulator: rendered files OpenCV reads back, and `lintel sim camera`."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from lintel.cli import main
from simulators.camera_scene import CameraScene, Step, qr_image


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
    with pytest.raises(ValueError, match=r"shift needs PIXELS \[DEGREES\]"):
        Step.parse("shift 10")
    with pytest.raises(ValueError, match="whole pixels and degrees"):
        Step.parse("shift 10 left")
    with pytest.raises(ValueError, match="at most 320 pixels and 90 degrees"):
        Step.parse("shift 10 400")


def test_a_shifted_camera_sees_the_lobby_moved_by_its_pixels_and_degrees() -> None:
    assert Step.parse("shift 20 60 5") == Step("shift", 20, dx=60, angle=5.0)
    scene = CameraScene(noise=0)
    idle = cv2.cvtColor(scene.frame(Step("idle", 1), 0), cv2.COLOR_BGR2GRAY).astype("float32")
    for dx in (60, -40):
        frame = scene.frame(Step.parse(f"shift 1 {dx}"), 0)
        moved = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype("float32")
        (found_dx, found_dy), _ = cv2.phaseCorrelate(idle, moved)
        assert abs(found_dx - dx) < 1 and abs(found_dy) < 1
    rotated = scene.frame(Step.parse("shift 1 0 20"), 0)
    assert cv2.absdiff(rotated, scene.frame(Step("idle", 1), 0)).mean() > 10


def test_qr_images_decode_to_their_text() -> None:
    text = "x" * 120
    assert cv2.QRCodeDetector().detectAndDecode(qr_image(text))[0] == text
