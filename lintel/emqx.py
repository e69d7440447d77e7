"""The broker accounts for an EMQX cluster (`broker_flavour: emqx`), rendered from the same
dynamic-security file `lintel provision` keeps for Mosquitto, so one set of accounts serves
either broker and switching is a setting, not a second source of truth.

EMQX reads (deploy/emqx/emqx.conf):
  - `users.csv`: the built-in database's bootstrap file (`bootstrap_type = hash`), one row per
    password account, `user_id,password_hash,salt,is_superuser`. The hash is the same
    PBKDF2-SHA512 (101 rounds, 64 bytes) Mosquitto checks, written in hex as EMQX compares it;
    the salt is used as its text, which is why provisioning draws ASCII salts.
  - `acl.conf`: the file authorizer's rules, first match wins, ending in `{deny, all}`.

Where the brokers differ, and what that costs:
  - Mosquitto's plugin tells subscribing a literal topic from a pattern; EMQX says it with
    `{eq, Topic}` (matched as text, so `+`/`#` in it are not wildcards). Same confinement.
  - Mosquitto checks delivery too (`publishClientReceive`); EMQX has no such check, so what an
    account may read is exactly what it may subscribe to. The edges' grants are the same
    topics either way; nothing is widened.
  - An account with no password (client certificate) gets no row: EMQX's listener takes the
    username from the certificate (`peer_cert_as_username = cn`).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Literal

BrokerFlavour = Literal["mosquitto", "emqx"]
BROKER_FLAVOURS: tuple[BrokerFlavour, ...] = ("mosquitto", "emqx")
EMQX_DIR = "emqx"  # beside `mosquitto/` in the deployment folder
USERS_FILE = "users.csv"
ACL_FILE = "acl.conf"


def _erl(text: str) -> str:
    """An Erlang string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def acl_rules(dynsec: dict[str, Any]) -> list[str]:
    """EMQX file-authorizer rules equal to the plugin's roles (only allows; then deny all)."""
    roles = {r.get("rolename"): r for r in dynsec.get("roles", [])}
    rules: list[str] = []
    for client in dynsec.get("clients", []):
        user = _erl(str(client["username"]))
        for held in client.get("roles", []):
            for acl in roles.get(held.get("rolename"), {}).get("acls", []):
                if not acl.get("allow", False):
                    continue
                topic, kind = _erl(str(acl["topic"])), acl["acltype"]
                if kind == "publishClientSend":
                    rules.append(f"{{allow, {{username, {user}}}, publish, [{topic}]}}.")
                elif kind == "subscribeLiteral":
                    rules.append(f"{{allow, {{username, {user}}}, subscribe, [{{eq, {topic}}}]}}.")
                elif kind == "subscribePattern":
                    rules.append(f"{{allow, {{username, {user}}}, subscribe, [{topic}]}}.")
                # publishClientReceive: EMQX does not check delivery (see the module's text)
    rules.append("{deny, all}.")
    return rules


def users_rows(dynsec: dict[str, Any]) -> list[str]:
    """The built-in database's bootstrap rows for every account with a password."""
    rows = ["user_id,password_hash,salt,is_superuser"]
    for client in dynsec.get("clients", []):
        if "password" not in client:
            continue
        salt = base64.b64decode(client["salt"])
        try:
            salt_text = salt.decode("ascii")
        except UnicodeDecodeError as exc:
            raise ValueError(f"account {client['username']!r}: its salt is not text, which EMQX "
                             "needs; provision it again to rotate its password") from exc
        if "," in salt_text or "," in client["username"]:
            raise ValueError(f"account {client['username']!r}: a comma cannot go in users.csv")
        digest = base64.b64decode(client["password"]).hex()
        rows.append(f"{client['username']},{digest},{salt_text},false")
    return rows


def write_emqx_files(dynsec_file: Path, out: Path) -> tuple[Path, Path]:
    """Render `users.csv` and `acl.conf` into `out` from Mosquitto's dynamic-security file."""
    dynsec = json.loads(dynsec_file.read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    users, acl = out / USERS_FILE, out / ACL_FILE
    users.write_text("\n".join(users_rows(dynsec)) + "\n", encoding="utf-8")
    users.chmod(0o600)
    acl.write_text("%% written by `lintel provision --broker-flavour emqx`; edit the accounts "
                   "there, not here\n" + "\n".join(acl_rules(dynsec)) + "\n", encoding="utf-8")
    return users, acl
