"""The work-order settings: defaults, the environment, and a bad webhook URL refused."""

from __future__ import annotations

import pytest

from hub.errors import ConfigError
from hub.settings import load_settings


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert (s.workorder_webhook_url, s.workorder_pm_lead_days, s.workorder_job_interval_s) == (
        None, 3, 60)
    monkeypatch.setenv("LINTEL_HUB_WORKORDER_WEBHOOK_URL", "https://ops.example/hooks/wo")
    monkeypatch.setenv("LINTEL_HUB_WORKORDER_PM_LEAD_DAYS", "7")
    s = load_settings()
    assert (s.workorder_webhook_url, s.workorder_pm_lead_days) == (
        "https://ops.example/hooks/wo", 7)


@pytest.mark.parametrize(("key", "value", "reason"), [
    ("workorder_webhook_url", "ftp://x", "must start with http:// or https://"),
    ("workorder_pm_lead_days", 61, "less than or equal to 60"),
    ("workorder_webhook_attempts", 0, "greater than or equal to 1"),
])
def test_bad_values_name_the_setting(key: str, value: object, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**{key: value})
    assert caught.value.key == key and reason in caught.value.reason
