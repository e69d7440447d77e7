"""Property tests over `lintel provision` inputs: any site, building, door or host name is
either refused with ProvisionError, changing nothing, or gives files that Mosquitto and the
edge accept, with every ACL line under the edge's own prefix."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.config import load_config
from lintel.provision import (
    DYNSEC_FILE,
    ProvisionError,
    provision_edge,
    provision_hub,
    provision_tls,
)
from wire import topics

NAMES = st.one_of(
    st.text(max_size=70),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", fullmatch=True),
    st.sampled_from(["demo\n", "a/b", "+", "#", "B1 ", "", "..", "B1\x00", "楼1", "x" * 65]),
)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def roles(path: Path) -> dict[str, list[dict[str, object]]]:
    """The dynamic-security file's roles: rolename -> its ACL entries."""
    doc = json.loads(path.read_text())
    return {role["rolename"]: role["acls"] for role in doc["roles"]}


@settings(max_examples=150, deadline=None)
@given(site=NAMES, building=NAMES, doors=st.none() | st.lists(NAMES, max_size=3))
def test_provision_edge_refuses_cleanly_or_writes_files_the_edge_and_broker_accept(
        site: str, building: str, doors: list[str] | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        provision_hub(out)
        before = snapshot(out)
        try:
            identity = provision_edge(out, site, building, doors=doors)
        except ProvisionError as exc:
            assert str(exc)
            assert snapshot(out) == before, "a refused provisioning changed files"
            return
        assert identity.config is not None
        config = load_config(identity.config)  # the edge accepts what provisioning wrote
        assert identity.username == f"{site}.{config.edge}" == config.mqtt.username
        assert config.site == site
        if doors:
            assert [d.id for d in config.doors] == doors
        else:  # exactly the bootstrap: the hub sends the installation
            written = yaml.safe_load(identity.config.read_text(encoding="utf-8"))
            assert set(written) == {"site", "edge", "data_dir", "mqtt", "hub_keys"}
        accounts = out / "mosquitto" / DYNSEC_FILE
        blocks = roles(accounts)
        assert set(blocks) == {"hub", identity.username}
        prefix = topics.prefix(site, config.edge) + "/"
        for acl in blocks[identity.username]:
            topic = str(acl["topic"])
            assert acl["allow"] is True and topic.startswith(prefix)
            assert acl["acltype"] in ("publishClientSend", "publishClientReceive",
                                      "subscribeLiteral")  # never a pattern, never $share
            assert "+" not in topic[len(prefix):] and "\n" not in topic
            assert "#" not in topic or acl["acltype"] == "publishClientSend"
        doc = json.loads(accounts.read_text())
        assert sorted(c["username"] for c in doc["clients"]) == sorted({"hub", identity.username})
        assert not any(doc["defaultACLAccess"][k] for k in ("publishClientSend",
                                                            "publishClientReceive", "subscribe"))


@settings(max_examples=60, deadline=None)
@given(hosts=st.lists(st.one_of(st.text(max_size=30), st.sampled_from(
    ["mosquitto", "127.0.0.1", "::1", "a..b", "host\n", "-x", "broker.example"])), max_size=3))
def test_provision_tls_refuses_cleanly_or_issues_a_certificate_for_the_hosts(hosts: list[str]) -> None:
    from cryptography import x509

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        try:
            files = provision_tls(out, hosts)
        except (ProvisionError, ValueError) as exc:
            assert str(exc) and not (out / "tls" / "server.crt").exists()
            return
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert len(list(names)) == len(hosts)
