"""The hub's Ed25519 signing key: one key shared by every hub worker.

From the `signing_key` setting (base64 of the 32-byte private seed) when given, else from
`<data_dir>/hub-signing-key` (the seed, base64), created at first start with mode 0600.
Creation is exclusive (O_EXCL), so hub workers starting together end up with the same key:
the loser of the race reads the winner's file.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.errors import ConfigError

KEY_FILE = "hub-signing-key"
_SEED_LEN = 32


def key_from_seed(seed_b64: str, where: str) -> Ed25519PrivateKey:
    try:
        seed = base64.b64decode(seed_b64.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(where, "is not base64") from exc
    if len(seed) != _SEED_LEN:
        raise ConfigError(where, f"must be {_SEED_LEN} bytes (base64), got {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def seed_b64(key: Ed25519PrivateKey) -> str:
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(raw).decode()


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def load_signing_key(data_dir: Path, setting: str | None = None) -> Ed25519PrivateKey:
    """The key from the setting, or the key file in `data_dir` (created when missing)."""
    if setting:
        return key_from_seed(setting, "signing_key")
    path = data_dir / KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    key = Ed25519PrivateKey.generate()
    with os.fdopen(fd, "w") as out:
        out.write(seed_b64(key) + "\n")
        out.flush()
        os.fsync(out.fileno())
    return key


def _read(path: Path) -> Ed25519PrivateKey:
    # Another worker may have created the file a moment ago and not written it yet.
    for _ in range(50):
        text = path.read_text()
        if text.endswith("\n"):
            return key_from_seed(text, str(path))
        time.sleep(0.02)
    raise ConfigError(str(path), "the hub signing key file is empty or incomplete")
