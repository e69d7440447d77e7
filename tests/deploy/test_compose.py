"""docker-compose.yml validated without Docker: the compose schema (docker-compose config),
every mounted and env file present, every hub variable a real hub setting, every edge config
valid for edge/config.py, and the broker's files where its config says."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from edge.config import load_config
from hub.settings import HubSettings, load_settings
from tests.deploy.compose import Service, deployment_copy, load, mosquitto_conf, read_env_file

HUBS = ("hub-1", "hub-2")
EDGES = ("edge-b1", "edge-b2")
# Variables the official images read (docs of postgres and influxdb on their image pages).
IMAGE_ENV = {
    "postgres": {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"},
    "influxdb": {"DOCKER_INFLUXDB_INIT_MODE", "DOCKER_INFLUXDB_INIT_USERNAME",
                 "DOCKER_INFLUXDB_INIT_PASSWORD", "DOCKER_INFLUXDB_INIT_ORG",
                 "DOCKER_INFLUXDB_INIT_BUCKET", "DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"},
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return deployment_copy(tmp_path_factory.mktemp("deployment"))


def docker_compose() -> str:
    found = shutil.which("docker-compose")
    assert found, "docker-compose (Debian's, validates without a daemon) is missing; make test installs it"
    return found


def test_docker_compose_accepts_the_file_and_refuses_a_wrong_key(root: Path) -> None:
    ok = subprocess.run([docker_compose(), "config", "-q"], cwd=root, capture_output=True, check=False,
                        text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    # the validator is live: the same file with a misspelt key is refused, naming it
    broken = root / "broken"
    broken.mkdir(exist_ok=True)
    text = (root / "docker-compose.yml").read_text().replace(
        "    restart: unless-stopped\n    env_file: deploy/postgres.env",
        "    restart: unless-stopped\n    envfile: deploy/postgres.env")
    assert "envfile" in text
    (broken / "docker-compose.yml").write_text(text)
    bad = subprocess.run([docker_compose(), "-f", str(broken / "docker-compose.yml"),
                          "--project-directory", str(root), "config", "-q"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode != 0 and "envfile" in bad.stderr


def test_the_services_a_compound_needs(root: Path) -> None:
    _, services = load(root)
    assert set(services) == {"mosquitto", "postgres", "influxdb", *HUBS, *EDGES}
    assert services["mosquitto"].spec["image"].startswith("eclipse-mosquitto:2")
    assert services["influxdb"].spec["image"].startswith("influxdb:2")
    for name in (*HUBS, *EDGES):
        build = services[name].spec["build"]
        assert (root / build["context"] / build["dockerfile"]).is_file()


def test_every_mounted_and_env_file_exists(root: Path) -> None:
    doc, services = load(root)
    for service in services.values():
        for target, source in service.binds().items():
            assert source.exists(), f"{service.name}: {source} (mounted at {target}) is missing"
        for volume in service.named_volumes():
            assert volume in doc["volumes"], f"{service.name}: volume {volume} not declared"
        for env_file in service.env_files():
            assert env_file.is_file(), f"{service.name}: env_file {env_file} is missing"


def test_hub_workers_read_only_real_settings_with_distinct_client_ids(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, services = load(root)
    client_ids = set()
    for name in HUBS:
        env = services[name].environment()
        unknown = [k for k in env if not k.startswith("LINTEL_HUB_")
                   or k.removeprefix("LINTEL_HUB_").lower() not in HubSettings.model_fields]
        assert not unknown, f"{name}: the hub reads no setting {unknown}"
        for key in list(os.environ):
            if key.startswith("LINTEL_HUB_"):
                monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = load_settings()  # every value valid
        assert settings.database_url.startswith("postgresql+psycopg://")
        assert settings.mqtt_host == "mosquitto" and settings.mqtt_shared_group == "hub"
        assert settings.telemetry_sink == "influxdb"
        assert settings.mqtt_password is not None
        client_ids.add(settings.mqtt_client_id)
    assert len(client_ids) == len(HUBS), "each hub worker needs its own stable client id"


def test_database_and_influxdb_secrets_agree_with_the_hub(root: Path) -> None:
    _, services = load(root)
    for name, allowed in IMAGE_ENV.items():
        env = services[name].environment()
        assert set(env) <= allowed, f"{name}: unknown variables {set(env) - allowed}"
    hub = services["hub-1"].environment()
    pg = services["postgres"].environment()
    assert (f"{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/{pg['POSTGRES_DB']}"
            in hub["LINTEL_HUB_DATABASE_URL"])
    influx = services["influxdb"].environment()
    assert hub["LINTEL_HUB_INFLUXDB_TOKEN"] == influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
    assert hub["LINTEL_HUB_INFLUXDB_ORG"] == influx["DOCKER_INFLUXDB_INIT_ORG"]
    assert hub["LINTEL_HUB_INFLUXDB_BUCKET"] == influx["DOCKER_INFLUXDB_INIT_BUCKET"]


def test_each_edge_config_is_valid_and_reaches_the_broker(root: Path) -> None:
    _, services = load(root)
    listeners = {int(v.split()[0]) for o, v in _broker_conf(services["mosquitto"]) if o == "listener"}
    seen = set()
    for name in EDGES:
        service = services[name]
        path = service.host_path("/etc/lintel/edge.yaml")
        assert path is not None and "/etc/lintel/edge.yaml" in " ".join(service.spec["command"])
        config = load_config(path)  # edge/config.py accepts it
        seen.add((config.site, config.edge))
        assert config.mqtt.host == "mosquitto" and config.mqtt.port in listeners
        assert config.mqtt.username == f"{config.site}.{config.edge}" and config.mqtt.password
        for optional in (config.mqtt.ca_file, config.mqtt.cert_file, config.mqtt.key_file):
            if optional is not None:
                mounted = service.host_path(str(optional))
                assert mounted is not None and mounted.is_file(), f"{name}: {optional} not mounted"
        # the data folder is a volume, so the outbox survives the container
        assert service.host_path(str(config.data_dir)) is None
        assert any(str(config.data_dir).startswith(v.split(":")[1]) for v in service.spec["volumes"]
                   if not v.startswith("./"))
        # the simulators link each door's pty at the reader port the config names
        assert config.doors and all(d.reader.port.startswith("/run/lintel/tty/") for d in config.doors)
    assert len(seen) == len(EDGES)


def _broker_conf(mosquitto: Service) -> list[tuple[str, str]]:
    conf = mosquitto.host_path("/mosquitto/config/mosquitto.conf")
    assert conf is not None
    return mosquitto_conf(conf)


def test_broker_persists_queues_and_finds_its_accounts(root: Path) -> None:
    _, services = load(root)
    mosquitto = services["mosquitto"]
    options = dict(_broker_conf(mosquitto))
    assert options["persistence"] == "true" and options["allow_anonymous"] == "false"
    assert int(options["max_queued_messages"]) >= 100_000
    assert options["persistence_location"].rstrip("/") == "/mosquitto/data"
    assert "mosquitto-data" in mosquitto.named_volumes()
    # accounts and ACLs by the dynamic-security plugin (the acl_file checks no SUBSCRIBE)
    assert "password_file" not in options and "acl_file" not in options
    assert options["plugin"] == "/usr/lib/mosquitto_dynamic_security.so"  # the image's path
    for option in ("plugin_opt_config_file", "include_dir"):
        path = mosquitto.host_path(options[option])
        assert path is not None and path.exists(), f"{option} {options[option]} is not mounted"
    accounts = json.loads(mosquitto.host_path(options["plugin_opt_config_file"]).read_text())
    users = {client["username"] for client in accounts["clients"]}
    hub_user = read_env_file(root / "deploy/hub/hub.env")["LINTEL_HUB_MQTT_USERNAME"]
    edges = {load_config(services[n].host_path("/etc/lintel/edge.yaml")).mqtt.username
             for n in EDGES}
    assert users == {hub_user, *edges}
    assert {role["rolename"] for role in accounts["roles"]} == users
    # the TLS listeners, once enabled, find the certificates `lintel provision tls` made
    tls = dict(mosquitto_conf(mosquitto.host_path(options["include_dir"]) / "tls.conf.disabled"))
    for option in ("cafile", "certfile", "keyfile"):
        path = mosquitto.host_path(tls[option])
        assert path is not None and path.is_file(), f"{option} {tls[option]} is not mounted"


def test_bootstrap_again_keeps_every_secret(root: Path) -> None:
    before = {p: p.read_bytes() for p in (root / "deploy").rglob("*") if p.is_file()}
    # LINTEL=/bin/false: any provisioning it attempted would fail the script
    subprocess.run(["sh", str(root / "deploy" / "bootstrap.sh")], check=True, timeout=60,
                   capture_output=True, env={"PATH": "/usr/bin:/bin", "LINTEL": "/bin/false"})
    after = {p: p.read_bytes() for p in (root / "deploy").rglob("*") if p.is_file()}
    assert before == after
