"""A resident's QR code lives for its 30 s period plus a grace: a test that shows one code
twice (granted, then replayed) takes it early in a period, so a loaded machine's slow first
show does not outlive the code and turn 'replayed' into 'token_expired'."""

from __future__ import annotations

import asyncio
import time

from hub.credentials.signing import QR_GRACE_S, QR_PERIOD_S


async def early_in_a_qr_period(left_s: float = 30.0) -> None:
    """Until a code issued now stays valid at least `left_s` (at most one period's wait)."""
    into = time.time() % QR_PERIOD_S
    if QR_PERIOD_S + QR_GRACE_S - into < left_s:
        await asyncio.sleep(QR_PERIOD_S - into + 0.05)
