from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.settings import HubSettings, load_settings, load_settings_or_exit


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINTEL_HUB_CONFIG", raising=False)
    s = HubSettings()
    assert s.database_url == "sqlite+aiosqlite:///./lintel-hub.db"
    assert (s.mqtt_client_id, s.mqtt_shared_group, s.http_host, s.http_port) == (
        "hub-1", "hub", "127.0.0.1", 8080)


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "hub.yaml"
    conf.write_text("mqtt_port: 1884\nmqtt_shared_group: ''\nhttp_port: 9000\n")
    monkeypatch.setenv("LINTEL_HUB_CONFIG", str(conf))
    monkeypatch.setenv("LINTEL_HUB_HTTP_PORT", "9001")
    s = load_settings()
    assert (s.mqtt_port, s.mqtt_shared_group, s.http_port) == (1884, None, 9001)
    toml = tmp_path / "hub.toml"
    toml.write_text('admin_password = "s3cret"\n')
    monkeypatch.setenv("LINTEL_HUB_CONFIG", str(toml))
    assert load_settings().admin_password.get_secret_value() == "s3cret"  # type: ignore[union-attr]


def test_bad_values_name_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINTEL_HUB_HTTP_PORT", "eighty")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.key == "http_port"
    monkeypatch.delenv("LINTEL_HUB_HTTP_PORT")
    conf = tmp_path / "hub.yaml"
    conf.write_text("mqtt_prot: 1\n")
    monkeypatch.setenv("LINTEL_HUB_CONFIG", str(conf))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.key == "mqtt_prot"
    with pytest.raises(SystemExit):
        load_settings_or_exit()
    monkeypatch.setenv("LINTEL_HUB_CONFIG", str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError):
        load_settings()
    monkeypatch.delenv("LINTEL_HUB_CONFIG")
    with pytest.raises(ConfigError) as err:
        load_settings(database_url="mysql://x")
    assert err.value.key == "database_url"
