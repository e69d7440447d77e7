"""`lintel provision`: broker identities and confinement for edges and hub workers.

Each edge gets its own Mosquitto account and ACL lines that confine it to its own topic
prefix (principle 6): it may publish only its events, state and command acks, and read only
its permissions and commands. The files are the ones `docker-compose.yml` mounts.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from wire import topics

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
PBKDF2_ROUNDS = 101  # what mosquitto_passwd writes for `$7$` (PBKDF2-SHA512) entries


class ProvisionError(ValueError):
    """A name or file the provisioning cannot use; the message says which and why."""


@dataclass(frozen=True)
class Identity:
    username: str
    password: str
    config: Path | None = None


def mosquitto_hash(password: str, *, salt: bytes | None = None) -> str:
    """A Mosquitto 2 password-file hash (`$7$`: PBKDF2-SHA512, 12-byte salt)."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ROUNDS)
    return f"$7${PBKDF2_ROUNDS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def edge_acl(site: str, edge: str) -> list[str]:
    return [
        f"topic write {topics.prefix(site, edge)}/evt/#",
        f"topic write {topics.state(site, edge)}",
        f"topic write {topics.cmd_ack(site, edge)}",
        f"topic read {topics.perm(site, edge)}",
        f"topic read {topics.cmd(site, edge)}",
    ]


HUB_ACL = [f"topic readwrite {topics.ROOT}/#"]


def _check(kind: str, value: str) -> str:
    if not _NAME.match(value):
        raise ProvisionError(
            f"{kind} {value!r} must be 1-64 letters, digits, '_', '.' or '-' (it goes in topic names)"
        )
    return value


def _set_password(passwd: Path, username: str, password: str) -> None:
    lines = passwd.read_text().splitlines() if passwd.exists() else []
    lines = [line for line in lines if not line.startswith(f"{username}:")]
    lines.append(f"{username}:{mosquitto_hash(password)}")
    passwd.write_text("\n".join(lines) + "\n")
    os.chmod(passwd, 0o600)


def _set_acl(acl: Path, username: str, rules: list[str]) -> None:
    """Replace `username`'s block in the ACL file, keeping everyone else's."""
    blocks: dict[str, list[str]] = {}
    current: str | None = None
    for line in acl.read_text().splitlines() if acl.exists() else []:
        if line.startswith("user "):
            current = line[5:].strip()
            blocks[current] = []
        elif line.strip() and current is not None:
            blocks[current].append(line)
    blocks[username] = rules
    text = "".join(f"user {user}\n" + "".join(f"{r}\n" for r in rs) + "\n" for user, rs in blocks.items())
    acl.write_text(text)


def provision_edge(out: Path, site: str, building: str, *, broker_host: str = "mosquitto",
                   broker_port: int = 1883, tls: bool = False) -> Identity:
    """Create (or rotate) the identity of `building`'s edge in `site`."""
    site = _check("site", site)
    edge = _check("edge", f"{building.lower()}-edge")
    password = secrets.token_urlsafe(18)
    broker = out / "mosquitto"
    broker.mkdir(parents=True, exist_ok=True)
    _set_password(broker / "passwd", edge, password)
    _set_acl(broker / "acl", edge, edge_acl(site, edge))
    edges = out / "edges"
    edges.mkdir(parents=True, exist_ok=True)
    config = edges / f"{site}-{edge}.yaml"
    mqtt: dict[str, object] = {"host": broker_host, "port": broker_port, "username": edge,
                               "password": password}
    if tls:
        mqtt["tls"] = True
    body = {"site": site, "edge": edge, "data_dir": f"/var/lib/lintel/{edge}", "mqtt": mqtt,
            "doors": []}
    config.write_text(
        f"# Lintel edge {site}/{edge}: add this building's doors (see README, Edge configuration).\n"
        + yaml.safe_dump(body, allow_unicode=True, sort_keys=False)
    )
    os.chmod(config, 0o600)
    return Identity(edge, password, config)


def provision_hub(out: Path, username: str = "hub") -> Identity:
    """Create (or rotate) a hub account: it reads every edge's traffic and writes perm/cmd."""
    username = _check("username", username)
    password = secrets.token_urlsafe(18)
    broker = out / "mosquitto"
    broker.mkdir(parents=True, exist_ok=True)
    _set_password(broker / "passwd", username, password)
    _set_acl(broker / "acl", username, HUB_ACL)
    return Identity(username, password)
