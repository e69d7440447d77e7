"""The hub's signing key: created once with mode 0600, shared by workers, or from a setting."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hub.credentials.keys import KEY_FILE, load_signing_key, public_key_b64, seed_b64
from hub.errors import ConfigError
from hub.settings import load_settings


def test_created_at_first_start_private_and_stable(tmp_path: Path) -> None:
    first = load_signing_key(tmp_path / "data")
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert public_key_b64(load_signing_key(tmp_path / "data")) == public_key_b64(first)


def test_workers_starting_together_share_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: public_key_b64(load_signing_key(tmp_path)), range(16)))
    assert len(set(keys)) == 1


def test_setting_wins_and_bad_setting_is_named(tmp_path: Path) -> None:
    seed = seed_b64(load_signing_key(tmp_path / "a"))
    assert seed_b64(load_signing_key(tmp_path / "b", seed)) == seed
    assert not (tmp_path / "b" / KEY_FILE).exists()
    with pytest.raises(ConfigError, match="signing_key: must be 32 bytes"):
        load_signing_key(tmp_path, "c2hvcnQ=")
    with pytest.raises(ConfigError, match="signing_key: is not base64"):
        load_signing_key(tmp_path, "not base64!")


def test_setting_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seed = seed_b64(load_signing_key(tmp_path))
    monkeypatch.setenv("LINTEL_HUB_SIGNING_KEY", seed)
    settings = load_settings()
    assert settings.signing_key is not None and settings.signing_key.get_secret_value() == seed
