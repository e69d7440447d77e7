"""The arm refusals an edge answers are read back by the hub: code and zones, every code."""

from __future__ import annotations

import pytest

from hub.texts import TEXTS
from wire.homesec import ARM_REFUSALS, arm_refusal, read_arm_refusal


@pytest.mark.parametrize("code", sorted(ARM_REFUSALS))
def test_every_refusal_reads_back_with_its_zones_and_has_both_languages(code: str) -> None:
    reason = arm_refusal(code, zones="3 (Bedroom window), 12 (Zone 12 (spare))",  # type: ignore[arg-type]
                         device="panel-101")
    zones = [3, 12] if "{zones}" in ARM_REFUSALS[code] else []
    assert read_arm_refusal(reason) == (code, zones)
    en, zh = TEXTS[f"arm_answer.{code}"]
    assert en and zh and en != zh


def test_other_answers_are_not_refusals() -> None:
    assert read_arm_refusal("command expired") is None
    assert read_arm_refusal("arming away: exit delay 30 s") is None
    assert read_arm_refusal("zone 3 is open; close it or bypass it!") is None
