"""Camera sources on OpenCV: RTSP/HTTP streams, video files and local devices, each read by
its own thread into a bounded queue that drops old frames."""

from edge.drivers.camera.errors import CameraError
from edge.drivers.camera.models import Frame, FrameQueue, SourceConfig, SourceCounters, SourceStatus
from edge.drivers.camera.source import CameraSource

__all__ = [
    "CameraError",
    "CameraSource",
    "Frame",
    "FrameQueue",
    "SourceConfig",
    "SourceCounters",
    "SourceStatus",
]
