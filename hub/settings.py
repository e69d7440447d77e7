"""Hub settings: environment (`LINTEL_HUB_*`) over an optional YAML/TOML file (`LINTEL_HUB_CONFIG`)."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

from hub.errors import ConfigError

CONFIG_ENV = "LINTEL_HUB_CONFIG"


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINTEL_HUB_", extra="forbid")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./lintel-hub.db",
        description="async SQLAlchemy URL: sqlite+aiosqlite:///... or postgresql+psycopg://...",
    )
    database_replica_url: str | None = Field(
        default=None, description="a PostgreSQL streaming replica (hot standby) of database_url: "
        "the API's and console's reads go there, writes and ingest to the primary; a client that "
        "just wrote reads from the primary until the replica has replayed its write (docs/scaling.md)")
    replica_check_interval_s: float = Field(
        default=2.0, gt=0, le=60, description="how often the replica's lag and health are measured")
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_client_id: str = Field(default="hub-1", min_length=1, max_length=23)
    mqtt_shared_group: str | None = Field(
        default="hub", description="`$share/<group>/` for events; empty or None = plain (amqtt)"
    )
    mqtt_keepalive_s: int = Field(default=30, ge=5, le=3600)
    mqtt_backoff_min_s: float = Field(default=0.2, gt=0)
    mqtt_backoff_max_s: float = Field(default=30.0, gt=0)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535, description="0 picks a free port")
    http_reuse_port: bool = Field(default=False, description=(
        "SO_REUSEPORT: several hub workers on one machine listen on the same http_port and the "
        "kernel spreads the connections over them (the API past one core; Linux)"))
    token_ttl_s: int = Field(default=12 * 3600, ge=60)
    trusted_proxies: list[str] = Field(
        default_factory=list, description="reverse proxies (addresses or networks, e.g. "
        "10.0.0.0/8) whose X-Forwarded-For names the client in the audit log; from anyone else "
        "the header is ignored")
    admin_username: str = Field(default="admin", min_length=1, max_length=64)
    admin_password: SecretStr | None = Field(
        default=None, description="bootstrap admin; a random one is generated and logged if unset"
    )
    data_dir: Path = Path("./lintel-data")
    ingest_batch_max: int = Field(default=1000, ge=1, le=100_000)
    publish_debounce_s: float = Field(default=0.2, ge=0)
    config_sweep_on_start: bool = Field(
        default=True, description="at start-up, compile every edge's configuration and publish "
        "those that changed or that their edge does not report running (hub.installation.push)")
    stored_confirm_interval_s: float = Field(
        default=0.25, gt=0, le=10,
        description="tell each edge what this worker committed (`stored`) this often")
    telemetry_sink: Literal["sql", "influxdb"] = Field(
        default="sql", description="where telemetry goes: the hub's database or InfluxDB")
    influxdb_url: str | None = Field(default=None, validate_default=True,
                                     description="e.g. http://influxdb:8086")
    influxdb_token: SecretStr | None = None
    influxdb_org: str | None = Field(default=None, validate_default=True)
    influxdb_bucket: str | None = Field(default=None, validate_default=True)
    telemetry_raw_days: float = Field(
        default=7, gt=0, description="raw SQL telemetry older than this is rolled into hours")
    telemetry_downsample_interval_s: float = Field(default=3600, gt=0)
    # issue 19: history partitioned by time on PostgreSQL (hub.history), retention per kind
    history_event_log_days: float | None = Field(
        default=365, gt=0, description="the event log (every event's payload) is kept this "
        "long (a large number: for ever). On PostgreSQL whole months leave at once")
    history_access_days: float | None = Field(
        default=1095, gt=0,
        description="the access log is kept this long (a large number: for ever)")
    history_alarm_days: float | None = Field(
        default=1095, gt=0, description="alarms' history (who raised, acknowledged, cleared "
        "each, when) is kept this long, and alarms cleared before then go with it; an open "
        "alarm stays (a large number: for ever)")
    history_ahead: int = Field(
        default=3, ge=1, le=24, description="partitions made ahead on PostgreSQL: this many "
        "months of events, days of raw telemetry")
    history_interval_s: float = Field(
        default=3600, gt=0, description="how often partitions are made ahead and retention runs")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: list[str]) -> list[str]:
        for proxy in value:
            try:
                ipaddress.ip_network(proxy.strip(), strict=False)
            except ValueError as exc:
                raise ValueError(f"{proxy!r} is not an address or network") from exc
        return value

    @field_validator("influxdb_url", "influxdb_org", "influxdb_bucket")
    @classmethod
    def _influxdb_complete(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("telemetry_sink") == "influxdb" and not value:
            raise ValueError("required when telemetry_sink is influxdb")
        if info.field_name == "influxdb_url" and value and not value.startswith(
                ("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    cookie_secure: bool = Field(
        default=False, description="mark the console's session cookie Secure (HTTPS only)"
    )
    signing_key: SecretStr | None = Field(
        default=None,
        description="the hub's Ed25519 key for QR and pass tokens: base64 of the 32-byte seed; "
        "unset: <data_dir>/hub-signing-key, created at first start (share it between workers); "
        "it also signs every message to the edges",
    )
    signing_key_next: SecretStr | None = Field(
        default=None,
        description="key rollover: the key that will replace signing_key (base64 seed). The hub "
        "still signs with signing_key and tells every edge to accept both; once every edge "
        "holds the new list, make it signing_key and unset this",
    )
    snapshot_retention_days: float = Field(
        default=30, gt=0, le=3650, description="camera snapshots and clips are deleted after this")
    snapshot_max_mb: float = Field(default=5, gt=0, le=200,
                                   description="largest snapshot or clip an edge may upload")
    snapshot_cleanup_interval_s: float = Field(default=3600, gt=0,
                                               description="how often expired snapshots go")

    rules_path: Path | None = Field(
        default=None, description="a rules YAML file or a directory of them, over the built-in "
        "rules (hub/rules/builtin.yaml): change or turn off a rule by name, or add rules")
    rules_check_interval_s: float = Field(
        default=1.0, gt=0, le=60, description="how often due rule timers are looked for")
    edge_silence_check_s: float = Field(
        default=1.0, gt=0, le=60, description="how often edges not heard from for 1.25 of "
        "their keepalives are looked for (counted offline: the broker may be the one that died)")

    # issue 5: work orders
    workorder_webhook_url: str | None = Field(
        default=None, description="POST each new, assigned or escalated work order here (JSON)")
    workorder_webhook_timeout_s: float = Field(default=5.0, gt=0, le=120)
    workorder_webhook_attempts: int = Field(default=4, ge=1, le=20)
    workorder_job_interval_s: float = Field(
        default=60, gt=0, description="preventive orders and overdue escalation, this often")
    workorder_pm_lead_days: int = Field(
        default=3, ge=0, le=60, description="open preventive orders this many days ahead")

    @field_validator("workorder_webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value or None

    mqtt_tls: bool = Field(default=False, description="connect to the broker over TLS (port 8883 as a rule)")
    mqtt_ca_file: Path | None = Field(
        default=None, description="CA bundle for the broker's certificate; None: the system's")

    @field_validator("mqtt_shared_group")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        if value is not None and ("/" in value or "+" in value or "#" in value):
            raise ValueError("must not contain '/', '+' or '#'")
        return value or None

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+psycopg://")):
            raise ValueError("use sqlite+aiosqlite:// or postgresql+psycopg://")
        return value

    @field_validator("database_replica_url")
    @classmethod
    def _replica_postgres(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value:
            return None
        if not value.startswith("postgresql+psycopg://"):
            raise ValueError("a replica must be postgresql+psycopg://")
        if not str(info.data.get("database_url", "")).startswith("postgresql+psycopg://"):
            raise ValueError("a replica needs database_url on PostgreSQL too")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = os.environ.get(CONFIG_ENV)
        if path:
            sources.append(_file_source(settings_cls, Path(path)))
        return tuple(sources)


def _file_source(settings_cls: type[BaseSettings], path: Path) -> PydanticBaseSettingsSource:
    if not path.is_file():
        raise ConfigError(CONFIG_ENV, f"no such file {str(path)!r}")
    if path.suffix in (".yaml", ".yml"):
        return YamlConfigSettingsSource(settings_cls, yaml_file=path)
    if path.suffix == ".toml":
        return TomlConfigSettingsSource(settings_cls, toml_file=path)
    raise ConfigError(CONFIG_ENV, f"{path.name}: expected a .yaml, .yml or .toml file")


def load_settings(**overrides: Any) -> HubSettings:
    """Validate the settings or raise ConfigError naming the first bad key path."""
    try:
        return HubSettings(**overrides)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        key = ".".join(str(p) for p in err["loc"]) or "(settings)"
        raise ConfigError(key, err["msg"]) from exc


def load_settings_or_exit(**overrides: Any) -> HubSettings:
    """For the command line: a bad value exits with status 2 and its key path."""
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        print(f"lintel hub: bad setting {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
