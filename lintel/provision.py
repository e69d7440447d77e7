"""`lintel provision`: broker identities and confinement for edges and hub workers.

Each edge gets its own Mosquitto account and a role that confines it to its own topic
prefix (principle 6): it may publish only its events, state and command acks, and subscribe
to and read only its own downlink topics. The files are the ones `docker-compose.yml` mounts.

Accounts and roles live in the dynamic-security plugin's file, not in a `password_file` and
`acl_file`: Mosquitto 2.0.11's `acl_file` never checks a SUBSCRIBE (`security_default.c`:
"FIXME - implement ACL subscription strings"), so an edge could join the hub's
`$share/hub/...` group, be dealt its share of every other edge's events, have them refused
by its read ACL and acknowledged all the same (measured: the hub stored 10 of 20). The
plugin checks subscriptions: anything not granted gets a refused SUBACK (0x80, MQTT 5: 0x87).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.credentials.keys import load_signing_key, public_key_b64, seed_b64
from hub.live import LIVE_TOPIC
from lintel import pki
from lintel.emqx import EMQX_DIR, BrokerFlavour, write_emqx_files
from wire import topics

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
PBKDF2_ROUNDS = 101  # what mosquitto_passwd and the dynamic-security plugin use (PBKDF2-SHA512)
DYNSEC_FILE = "dynamic-security.json"  # the plugin's `plugin_opt_config_file`
# Nothing that a role does not grant: no publishing, reading or subscribing (unsubscribing
# harms nobody).
DEFAULT_ACCESS = {"publishClientSend": False, "publishClientReceive": False,
                  "subscribe": False, "unsubscribe": True}


class ProvisionError(ValueError):
    """A name or file the provisioning cannot use; the message says which and why."""


@dataclass(frozen=True)
class Identity:
    username: str
    password: str
    config: Path | None = None


def dynsec_password(password: str, *, salt: bytes | None = None) -> dict[str, object]:
    """A client's password as the dynamic-security plugin stores it (same PBKDF2-SHA512).
    The salt (12 bytes, as the plugin wants) is ASCII text: EMQX takes a salt as text
    (lintel.emqx renders the same accounts for it)."""
    salt = salt if salt is not None else secrets.token_urlsafe(9).encode()
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ROUNDS)
    return {"password": base64.b64encode(digest).decode(), "salt": base64.b64encode(salt).decode(),
            "iterations": PBKDF2_ROUNDS}


@dataclass(frozen=True)
class Grant:
    """One line of a role: `acltype` as the plugin names it, the topic (filter), allowed."""

    acltype: str
    topic: str

    def entry(self) -> dict[str, object]:
        return {"acltype": self.acltype, "topic": self.topic, "priority": 0, "allow": True}


def edge_downlink(site: str, edge: str) -> list[str]:
    """The topics the hub sends an edge on: the only ones it may subscribe to and read."""
    prefix = topics.prefix(site, edge)
    return [topics.perm(site, edge), topics.perm_delta(site, edge), topics.cmd(site, edge),
            topics.stored(site, edge), f"{prefix}/config"]


def edge_acl(site: str, edge: str) -> list[Grant]:
    """Publish its events, state and acks; subscribe (exact topics, so no `$share/` group
    and no wildcard) to and read its downlink. Everything else is refused."""
    prefix = topics.prefix(site, edge)
    sends = [f"{prefix}/evt/#", topics.state(site, edge), topics.cmd_ack(site, edge)]
    downlink = edge_downlink(site, edge)
    return ([Grant("publishClientSend", t) for t in sends]
            + [Grant("subscribeLiteral", t) for t in downlink]
            + [Grant("publishClientReceive", t) for t in downlink])


# The edges' topics, the hub's own share group over them (no other account has it), and the
# hub workers' own live-push topic (hub.live), which no edge reads.
HUB_ACL = [
    Grant("publishClientSend", f"{topics.ROOT}/#"), Grant("publishClientSend", LIVE_TOPIC),
    Grant("publishClientReceive", f"{topics.ROOT}/#"), Grant("publishClientReceive", LIVE_TOPIC),
    Grant("subscribePattern", f"{topics.ROOT}/#"),
    Grant("subscribePattern", topics.shared(f"{topics.ROOT}/#")),
    Grant("subscribeLiteral", LIVE_TOPIC),
]


def _check(kind: str, value: str) -> str:
    if not _NAME.fullmatch(value):  # fullmatch: `$` alone lets a final newline through
        raise ProvisionError(
            f"{kind} {value!r} must be 1-64 letters, digits, '_', '.' or '-' (it goes in topic names)"
        )
    return value


def _load_dynsec(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"defaultACLAccess": dict(DEFAULT_ACCESS), "clients": [], "groups": [], "roles": []}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ProvisionError(f"{path}: not valid JSON, fix or remove it: {exc}") from exc
    if not isinstance(doc, dict) or not all(
            isinstance(doc.get(k, []), list) and all(isinstance(e, dict) for e in doc.get(k, []))
            for k in ("clients", "groups", "roles")):
        raise ProvisionError(f"{path}: expected the dynamic-security plugin's file "
                             "(clients, groups and roles lists), fix or remove it")
    doc["defaultACLAccess"] = dict(DEFAULT_ACCESS)  # never wider, whatever was there
    return doc


def _set_account(broker: Path, username: str, password: str | None, acl: list[Grant],
                 flavour: BrokerFlavour = "mosquitto") -> None:
    """Replace `username`'s client and role (of the same name) in the plugin's file, keeping
    everyone else's. No password: the account logs in only by client certificate. The file
    is the one source of the accounts; for EMQX they are rendered from it beside it."""
    path = broker / DYNSEC_FILE
    doc = _load_dynsec(path)
    client: dict[str, Any] = {"username": username, "roles": [{"rolename": username}]}
    if password:
        client.update(dynsec_password(password))
    role = {"rolename": username, "acls": [grant.entry() for grant in acl]}
    doc["clients"] = [*(c for c in doc.get("clients", []) if c.get("username") != username),
                      client]
    doc["roles"] = [*(r for r in doc.get("roles", []) if r.get("rolename") != username), role]
    doc.setdefault("groups", [])
    broker.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.chmod(path, 0o600)
    if flavour == "emqx":
        write_emqx_files(path, broker.parent / EMQX_DIR)


TTY_DIR = "/run/lintel/tty"  # where `lintel sim serve --edge-config` links each door's pty
CERT_DIR = "/etc/lintel"  # where docker-compose.yml mounts an edge's CA and certificate
DEFAULT_CA_FILE = f"{CERT_DIR}/ca.crt"


def edge_name(building: str) -> str:
    return f"{building.lower()}-edge"


def edge_username(site: str, edge: str) -> str:
    """An edge's broker account: site-qualified, as every compound has its building B1."""
    return f"{site}.{edge}"


def _door_skeleton(index: int, door: str) -> dict[str, object]:
    return {"id": _check("door", door), "name": door,
            "reader": {"port": f"{TTY_DIR}/{door}", "address": 101 + index,
                       "scbk": secrets.token_hex(16)}}


def provision_edge(out: Path, site: str, building: str, *, broker_host: str = "mosquitto",
                   broker_port: int | None = None, tls: bool = False,
                   ca_file: str | None = None, doors: list[str] | None = None,
                   client_cert: bool = False,
                   broker_flavour: BrokerFlavour = "mosquitto") -> Identity:
    """Create (or rotate) the identity of `building`'s edge in `site`.

    Writes its account (`<site>.<edge>`: password and role) into the broker's
    dynamic-security file and its config file: exactly the edge's bootstrap (site, edge,
    broker, data folder, the hub's keys); its doors, devices and cameras come from the hub
    (wire.config). A config that already exists keeps everything else; only the broker
    connection and the password change (rotation). `doors` (labs and the compose demo, whose
    simulators read the file) adds an initial installation of those doors to a new config,
    each with a fresh secure-channel key, until the hub's configuration supersedes it.

    With `client_cert` the edge gets a client certificate (common name = its username, signed
    by the CA of `provision_tls`) instead of a password, for the broker's listener with
    `use_identity_as_username` (port 8884 by default).

    `broker_flavour` "emqx" also renders every account for an EMQX cluster (lintel.emqx).
    """
    site = _check("site", site)
    edge = _check("edge", edge_name(building))
    username = edge_username(site, edge)
    if doors is not None and len(set(doors)) != len(doors):
        raise ProvisionError(f"doors repeated: {', '.join(sorted({d for d in doors if doors.count(d) > 1}))}")
    edges = out / "edges"
    config = edges / f"{site}-{edge}.yaml"
    existing = _existing_config(config)
    _load_dynsec(out / "mosquitto" / DYNSEC_FILE)  # a broken file is refused before any write
    if doors is not None and existing is not None:
        raise ProvisionError(f"{config} exists: edit its doors there (provisioning again only "
                             "rotates the password)")
    body = existing or {"site": site, "edge": edge, "data_dir": f"/var/lib/lintel/{edge}"}
    if existing is None and doors:
        body["doors"] = [_door_skeleton(i, d) for i, d in enumerate(doors)]
    password = "" if client_cert else secrets.token_urlsafe(18)
    old_mqtt = body.get("mqtt")
    mqtt: dict[str, object] = dict(old_mqtt) if isinstance(old_mqtt, dict) else {}
    for key in ("username", "password", "tls", "ca_file", "cert_file", "key_file"):
        mqtt.pop(key, None)
    default_port = 8884 if client_cert else 8883 if tls else 1883
    mqtt.update({"host": broker_host, "port": broker_port or default_port})
    if client_cert:
        files = pki.issue(pki.ensure_ca(out / "tls"),
                          pki.CertFiles(edges / f"{site}-{edge}.crt", edges / f"{site}-{edge}.key"),
                          username)
        mqtt.update({"tls": True, "ca_file": ca_file or DEFAULT_CA_FILE,
                     "cert_file": f"{CERT_DIR}/{files.cert.name}",
                     "key_file": f"{CERT_DIR}/{files.key.name}"})
    else:
        mqtt.update({"username": username, "password": password})
    if tls and not client_cert:
        mqtt.update({"tls": True, "ca_file": ca_file or DEFAULT_CA_FILE})
    body["mqtt"] = mqtt
    # the edge's trust anchor: the hub key that signs its permissions and commands (principle 8)
    held = body.get("hub_keys")
    keys = [str(k) for k in held] if isinstance(held, list) else []
    body["hub_keys"] = list(dict.fromkeys([*keys, hub_public_key(out)]))
    edges.mkdir(parents=True, exist_ok=True)
    _set_account(out / "mosquitto", username, password or None, edge_acl(site, edge),
                 broker_flavour)
    config.write_text(
        f"# Lintel edge {site}/{edge}: who it is, how it reaches the broker and which hub keys it\n"
        "# trusts; its doors, devices and cameras come signed from the hub (docs/configuration.md).\n"
        "# Provisioning again rotates the password and keeps the rest.\n"
        + yaml.safe_dump(body, allow_unicode=True, sort_keys=False)
    )
    os.chmod(config, 0o600)
    return Identity(username, password, config)


def _existing_config(config: Path) -> dict[str, object] | None:
    if not config.exists():
        return None
    try:
        body = yaml.safe_load(config.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProvisionError(f"{config}: not valid YAML, fix or remove it: {exc}") from exc
    if not isinstance(body, dict):
        raise ProvisionError(f"{config}: expected a mapping, fix or remove it")
    return body


def hub_signing_key(out: Path) -> Ed25519PrivateKey:
    """The key every hub worker signs with (QR tokens, every message to an edge), kept in
    `<out>/hub/hub-signing-key` (0600) and created when missing."""
    return load_signing_key(out / "hub")


def hub_public_key(out: Path) -> str:
    """What an edge's config lists in `hub_keys` to trust the provisioned hub."""
    return public_key_b64(hub_signing_key(out))


def provision_hub(out: Path, username: str = "hub",
                  broker_flavour: BrokerFlavour = "mosquitto") -> Identity:
    """Create (or rotate) a hub account: it reads every edge's traffic and writes perm/cmd.

    Also writes `hub/<username>.env` (LINTEL_HUB_MQTT_USERNAME/PASSWORD, and the signing key
    the edges' configs trust) for the hub workers' `env_file`; the workers share the account,
    each with its own client id.
    """
    username = _check("username", username)
    password = secrets.token_urlsafe(18)
    _set_account(out / "mosquitto", username, password, HUB_ACL, broker_flavour)
    env = out / "hub" / f"{username}.env"
    env.parent.mkdir(parents=True, exist_ok=True)
    env.write_text(f"LINTEL_HUB_MQTT_USERNAME={username}\nLINTEL_HUB_MQTT_PASSWORD={password}\n"
                   f"LINTEL_HUB_SIGNING_KEY={seed_b64(hub_signing_key(out))}\n")
    os.chmod(env, 0o600)
    return Identity(username, password, env)


def provision_tls(out: Path, hosts: list[str]) -> pki.CertFiles:
    """The CA (kept when it exists) and a new server certificate for the broker's TLS
    listeners, valid for `hosts` (the names and addresses edges and hubs connect to)."""
    if not hosts:
        raise ProvisionError("name at least one broker host name or address")
    for host in hosts:
        if not re.fullmatch(r"[A-Za-z0-9.:-]{1,253}", host):
            raise ProvisionError(f"broker host {host!r} is not a DNS name or IP address")
    folder = out / "tls"
    return pki.issue(pki.ensure_ca(folder), pki.CertFiles(folder / "server.crt",
                                                           folder / "server.key"),
                     hosts[0], server_names=hosts)
