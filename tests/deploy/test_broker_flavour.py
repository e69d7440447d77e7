"""`broker_flavour`: the same provisioned accounts for Mosquitto or an EMQX cluster, and the
clustered-broker profile (docker-compose.emqx.yml) validated without Docker."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from lintel.emqx import ACL_FILE, USERS_FILE
from lintel.provision import DYNSEC_FILE, provision_edge, provision_hub
from tests.deploy.compose import REPO
from wire import topics


def test_mosquitto_flavour_writes_only_the_plugins_file(tmp_path: Path) -> None:
    provision_hub(tmp_path)
    provision_edge(tmp_path, "demo", "B1")
    assert (tmp_path / "mosquitto" / DYNSEC_FILE).exists()
    assert not (tmp_path / "emqx").exists()


def test_emqx_flavour_renders_accounts_emqx_verifies_and_the_same_confinement(
        tmp_path: Path) -> None:
    hub = provision_hub(tmp_path, broker_flavour="emqx")
    b1 = provision_edge(tmp_path, "demo", "B1", broker_flavour="emqx")
    b2 = provision_edge(tmp_path, "demo", "B2", broker_flavour="emqx")
    rows = {line.split(",")[0]: line.split(",")
            for line in (tmp_path / "emqx" / USERS_FILE).read_text().splitlines()[1:]}
    assert set(rows) == {hub.username, b1.username, b2.username}
    for identity in (hub, b1, b2):
        # what EMQX computes for pbkdf2 (deploy/emqx/emqx.conf): sha512, 101 rounds, 64 bytes,
        # the salt as its text, compared in hex
        _, digest, salt, superuser = rows[identity.username]
        assert digest == hashlib.pbkdf2_hmac("sha512", identity.password.encode(),
                                             salt.encode(), 101, 64).hex()
        assert superuser == "false"
    assert (tmp_path / "emqx" / USERS_FILE).stat().st_mode & 0o077 == 0
    acl = (tmp_path / "emqx" / ACL_FILE).read_text().splitlines()
    mine = [line for line in acl if '"demo.b1-edge"' in line]
    assert f'{{allow, {{username, "demo.b1-edge"}}, publish, ["{topics.prefix("demo", "b1-edge")}/evt/#"]}}.' in mine
    assert (f'{{allow, {{username, "demo.b1-edge"}}, subscribe, [{{eq, "{topics.perm("demo", "b1-edge")}"}}]}}.'
            in mine)
    assert not any("b2-edge" in line for line in mine)  # nothing of another edge
    assert not any("$share" in line for line in mine)  # the hub's group is the hub's alone
    assert any('"hub"' in line and "$share/hub/" in line for line in acl)
    assert acl[-1] == "{deny, all}."
    # rotating a password re-renders: one row, the new hash
    again = provision_edge(tmp_path, "demo", "B1", broker_flavour="emqx")
    text = (tmp_path / "emqx" / USERS_FILE).read_text()
    assert text.count("demo.b1-edge,") == 1 and again.password != b1.password


def test_the_emqx_profile_validates_and_puts_the_second_worker_on_the_second_node(
        tmp_path: Path) -> None:
    shutil.copy(REPO / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(REPO / "docker-compose.emqx.yml", tmp_path / "docker-compose.emqx.yml")
    shutil.copytree(REPO / "deploy", tmp_path / "deploy",
                    ignore=shutil.ignore_patterns("*.env", "hub", "edges", "tls", "users.csv",
                                                  "acl.conf", "dynamic-security.json"))
    lintel = Path(sys.executable).parent / "lintel"  # the venv's, as `make test` runs it
    subprocess.run(["sh", str(tmp_path / "deploy" / "bootstrap.sh")], check=True, timeout=60,
                   env={**os.environ, "LINTEL": str(lintel), "LINTEL_BROKER_FLAVOUR": "emqx"},
                   capture_output=True)
    assert (tmp_path / "deploy" / "emqx" / USERS_FILE).exists()
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose (Debian's, validates without a daemon) is missing"
    files = ["-f", "docker-compose.yml", "-f", "docker-compose.emqx.yml"]
    done = subprocess.run([compose, *files, "config"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert services["mosquitto"]["image"].startswith("emqx/emqx:")
    assert services["emqx-2"]["image"] == services["mosquitto"]["image"]
    assert services["hub-2"]["environment"]["LINTEL_HUB_MQTT_HOST"] == "emqx-2.lintel"
    mounts = {v.split(":")[1] for v in services["emqx-2"]["volumes"]}
    assert {"/opt/emqx/etc/emqx.conf", "/opt/emqx/etc/lintel"} <= mounts
    # without the profile, Mosquitto as before
    plain = subprocess.run([compose, "config"], cwd=tmp_path, capture_output=True, text=True,
                           timeout=60, check=False)
    assert yaml.safe_load(plain.stdout)["services"]["mosquitto"]["image"].startswith(
        "eclipse-mosquitto")
