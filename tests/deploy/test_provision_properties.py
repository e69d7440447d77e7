"""Property tests over `lintel provision` inputs: any site, building, door or host name is
either refused with ProvisionError, changing nothing, or gives files that Mosquitto and the
edge accept, with every ACL line under the edge's own prefix."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.config import load_config
from lintel.provision import ProvisionError, provision_edge, provision_hub, provision_tls
from wire import topics

NAMES = st.one_of(
    st.text(max_size=70),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", fullmatch=True),
    st.sampled_from(["demo\n", "a/b", "+", "#", "B1 ", "", "..", "B1\x00", "楼1", "x" * 65]),
)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def acl_blocks(text: str) -> dict[str, list[str]]:
    blocks: dict[str, list[str]] = {}
    user = None
    for line in text.splitlines():
        if line.startswith("user "):
            user = line[5:]
            blocks[user] = []
        elif line:
            assert user is not None, f"ACL line {line!r} outside a user block"
            blocks[user].append(line)
    return blocks


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
        blocks = acl_blocks((out / "mosquitto" / "acl").read_text())
        assert set(blocks) == {"hub", identity.username}
        prefix = topics.prefix(site, config.edge) + "/"
        for rule in blocks[identity.username]:
            access, _, topic = rule.removeprefix("topic ").partition(" ")
            assert access in ("read", "write") and topic.startswith(prefix)
            assert all(c not in topic[len(prefix):] for c in "+") and "\n" not in topic
        users = [line.split(":")[0] for line in (out / "mosquitto" / "passwd").read_text().split()]
        assert sorted(users) == sorted({"hub", identity.username})


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
