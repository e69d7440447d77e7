"""A reader's new key kept at the edge and sealed so that only the hub opens it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.reader_keys import ReaderKeyStore, fingerprint, seal_key
from hub.credentials.keys import public_key_b64
from hub.credentials.reader_keys import SealError, open_sealed

HUB = Ed25519PrivateKey.generate()


def test_the_hub_opens_what_the_edge_sealed_to_its_signing_key() -> None:
    key = os.urandom(16)
    sealed = seal_key(key, public_key_b64(HUB), "garden/b3/lobby/101")
    assert key.hex() not in sealed
    assert open_sealed(sealed, [Ed25519PrivateKey.generate(), HUB], "garden/b3/lobby/101") == key


def test_a_sealed_key_opens_only_for_its_door_and_its_hub() -> None:
    sealed = seal_key(os.urandom(16), public_key_b64(HUB), "garden/b3/lobby/101")
    with pytest.raises(SealError, match="does not open"):
        open_sealed(sealed, [HUB], "garden/b3/gym/101")
    with pytest.raises(SealError, match="does not hold"):
        open_sealed(sealed, [Ed25519PrivateKey.generate()], "garden/b3/lobby/101")


def test_the_store_keeps_keys_private_and_per_reader(tmp_path: Path) -> None:
    path = tmp_path / "reader-keys.json"
    key = os.urandom(16)
    ReaderKeyStore(path).put("lobby", "/dev/ttyUSB0", 101, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = ReaderKeyStore(path)
    assert again.get("lobby", "/dev/ttyUSB0", 101) == key
    assert again.get("lobby", "/dev/ttyUSB0", 102) is None  # another reader now: not its key
    assert len(fingerprint(key)) == 16
