"""QR images of token text (segno: pure Python, PNG and SVG)."""

from __future__ import annotations

import io
from typing import Literal

import segno

QrFormat = Literal["png", "svg"]
CONTENT_TYPES: dict[str, str] = {"png": "image/png", "svg": "image/svg+xml"}


def render(text: str, fmt: QrFormat, *, scale: int = 6) -> bytes:
    """The QR code of `text` (error correction M: survives a scratched phone screen)."""
    code = segno.make_qr(text, error="m")
    out = io.BytesIO()
    code.save(out, kind=fmt, scale=scale, border=2)
    return out.getvalue()
