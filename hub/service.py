"""The hub process: `async with Hub(settings) as hub:` runs everything until exit."""

from __future__ import annotations

import logging
import secrets
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Self, TypeVar

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.api.app import create_app
from hub.api.cameras.routes import SNAPSHOT_POLICY, SnapshotPolicy
from hub.api.core.auth import create_user
from hub.api.core.keys import EDGE_CONFIGS
from hub.cameras.store import SnapshotRetention
from hub.commands import CommandSender
from hub.compiler import PermissionPublisher
from hub.console import add_console
from hub.credentials import TokenSigner, load_signing_key
from hub.credentials.downlink import DownlinkSigner
from hub.credentials.keys import key_from_seed
from hub.db import create_engine, create_sessionmaker, migrate
from hub.edgeconfig import EdgeConfigPublisher
from hub.errors import MqttError
from hub.history.maintenance import HistoryMaintenance, Retention
from hub.ingest import Ingest, hub_subscriptions
from hub.installation.push import ConfigPusher
from hub.live import LiveBus
from hub.liveness import SilenceSweep
from hub.models import User
from hub.mqtt import MqttClient
from hub.patrol.sweep import PatrolSweep
from hub.replica import ReplicaReads
from hub.rules.clock import Clock
from hub.rules.engine import RuleEngine, TimerChecker
from hub.rules.loader import load_rules
from hub.settings import HubSettings
from hub.stored import StoredConfirmer, UplinkFolder
from hub.telemetry import Downsampler, InfluxTelemetrySink, TelemetrySink
from hub.workorders.running import enter_work_orders

log = logging.getLogger(__name__)
MQTT_START_WAIT_S = 10.0
T = TypeVar("T")


async def bootstrap_admin(sessions: async_sessionmaker[AsyncSession], username: str,
                          password: str) -> bool:
    """Create the first admin if there is no user at all; True if one was created."""
    async with sessions() as session:
        if (await session.execute(select(User.id).limit(1))).first() is not None:
            return False
        try:
            await create_user(session, username, password, "admin")
            await session.commit()
        except IntegrityError:  # another hub worker created it first
            return False
    return True


def build_app(sessions: async_sessionmaker[AsyncSession], publisher: PermissionPublisher,
              settings: HubSettings, commands: CommandSender | None = None,
              telemetry_sink: TelemetrySink | None = None,
              signer: TokenSigner | None = None,
              live: LiveBus | None = None,
              config_pusher: ConfigPusher | None = None,
              replica: ReplicaReads | None = None) -> web.Application:
    app = create_app(sessions=sessions, publisher=publisher, token_ttl_s=settings.token_ttl_s,
                     commands=commands, telemetry_sink=telemetry_sink,
                     cookie_secure=settings.cookie_secure, signer=signer, live=live,
                     config_publisher=config_pusher, replica=replica,
                     trusted_proxies=tuple(settings.trusted_proxies))
    add_console(app)  # the web console's pages beside the API
    app[SNAPSHOT_POLICY] = SnapshotPolicy(settings.snapshot_retention_days,
                                          int(settings.snapshot_max_mb * 1024 * 1024))
    return app


async def open_telemetry_sink(settings: HubSettings, stack: AsyncExitStack,
                              sessions: async_sessionmaker[AsyncSession]) -> TelemetrySink | None:
    """InfluxDB when configured; else None (SQL, with the downsampling job running)."""
    s = settings
    if s.telemetry_sink == "influxdb":
        return await stack.enter_async_context(InfluxTelemetrySink(
            url=str(s.influxdb_url), org=str(s.influxdb_org), bucket=str(s.influxdb_bucket),
            token=s.influxdb_token.get_secret_value() if s.influxdb_token else ""))
    await stack.enter_async_context(Downsampler(
        sessions, raw_days=s.telemetry_raw_days, interval_s=s.telemetry_downsample_interval_s))
    return None


class Hub:
    """Migrations, database, bootstrap admin, MQTT ingest, permission publisher, HTTP API."""

    def __init__(self, settings: HubSettings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock  # the rules' clock (None: the system's); tests move their own
        self.rules: RuleEngine | None = None  # the rules engine, once started
        self.admin_password: str | None = None  # set when a password had to be generated
        self._stack: AsyncExitStack | None = None
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._mqtt: MqttClient | None = None
        self._ingest: Ingest | None = None
        self._publisher: PermissionPublisher | None = None
        self._edge_configs: EdgeConfigPublisher | None = None
        self.config_pusher: ConfigPusher | None = None  # once started
        self._live: LiveBus | None = None
        self._url: str | None = None
        self.signer: TokenSigner | None = None  # the hub's QR / pass token signer, once started
        self.downlink: DownlinkSigner | None = None  # signs every message to an edge, once started
        self.replica: ReplicaReads | None = None  # the read replica, when one is configured

    @property
    def url(self) -> str:
        """Base HTTP URL, e.g. http://127.0.0.1:8080 (the real port when http_port is 0)."""
        return _started(self._url)

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return _started(self._sessions)

    @property
    def engine(self) -> AsyncEngine:
        return _started(self._engine)

    @property
    def mqtt(self) -> MqttClient:
        return _started(self._mqtt)

    @property
    def ingest(self) -> Ingest:
        return _started(self._ingest)

    @property
    def live(self) -> LiveBus:
        """Pushes committed changes to the consoles of every hub worker (hub.live)."""
        return _started(self._live)

    @property
    def publisher(self) -> PermissionPublisher:
        return _started(self._publisher)

    @property
    def edge_configs(self) -> EdgeConfigPublisher:
        """Publishes each edge's configuration (hub.edgeconfig)."""
        return _started(self._edge_configs)

    async def __aenter__(self) -> Self:
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            await self._start(stack)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()

    async def _start(self, stack: AsyncExitStack) -> None:
        s = self.settings
        # A bad rules file stops the start before anything else, naming file, rule and field.
        book = load_rules(s.rules_path)
        await migrate(s.database_url)
        key = load_signing_key(
            s.data_dir, s.signing_key.get_secret_value() if s.signing_key else None)
        signer = self.signer = TokenSigner(key)
        next_key = (key_from_seed(s.signing_key_next.get_secret_value(), "signing_key_next")
                    if s.signing_key_next else None)
        downlink = self.downlink = DownlinkSigner(key, next_key)
        self._engine = create_engine(s.database_url)
        stack.push_async_callback(self._engine.dispose)
        self._sessions = create_sessionmaker(self._engine)

        password = s.admin_password.get_secret_value() if s.admin_password else None
        generated = password is None
        password = password or secrets.token_urlsafe(12)
        created = await bootstrap_admin(self._sessions, s.admin_username, password)
        if created and generated:
            self.admin_password = password
            log.warning("created admin %r with password %s", s.admin_username, password)

        telemetry_sink = await open_telemetry_sink(s, stack, self._sessions)
        self.rules = RuleEngine(book, self._sessions, clock=self.clock)
        # Exit order is the reverse: HTTP, publisher, ingest, then the MQTT disconnect.
        self._mqtt = await stack.enter_async_context(MqttClient(
            host=s.mqtt_host, port=s.mqtt_port, client_id=s.mqtt_client_id,
            subscriptions=hub_subscriptions(s.mqtt_shared_group),
            username=s.mqtt_username,
            password=s.mqtt_password.get_secret_value() if s.mqtt_password else None,
            keepalive=s.mqtt_keepalive_s,
            backoff_min_s=s.mqtt_backoff_min_s, backoff_max_s=s.mqtt_backoff_max_s,
            tls=s.mqtt_tls, ca_file=str(s.mqtt_ca_file) if s.mqtt_ca_file else None,
        ))
        self._live = await stack.enter_async_context(LiveBus(self._mqtt))
        # Exits before the ingest's MQTT client: the last confirmations still go out.
        confirmer = await stack.enter_async_context(StoredConfirmer(
            self._mqtt, downlink, interval_s=s.stored_confirm_interval_s))
        await stack.enter_async_context(UplinkFolder(self._sessions, confirmer))
        self._ingest = await stack.enter_async_context(
            Ingest(self._sessions, self._mqtt, batch_max=s.ingest_batch_max,
                   telemetry_sink=telemetry_sink, live=self._live, rules=self.rules,
                   confirmer=confirmer))
        try:
            await self._mqtt.wait_ready(MQTT_START_WAIT_S)
        except MqttError:
            log.warning("broker %s:%s not reachable yet; retrying in the background",
                        s.mqtt_host, s.mqtt_port)
        self._publisher = await stack.enter_async_context(
            PermissionPublisher(self._sessions, self._mqtt, debounce_s=s.publish_debounce_s,
                                hub_public_key=signer.public_key, downlink=downlink))
        self._edge_configs = EdgeConfigPublisher(self._mqtt, downlink)
        # issue 15: an installation change recompiles and pushes its edges' configuration
        self.config_pusher = await stack.enter_async_context(ConfigPusher(
            self._sessions, self._edge_configs, debounce_s=s.publish_debounce_s,
            keys=[key] + ([next_key] if next_key is not None else []),
            sweep_on_start=s.config_sweep_on_start))
        self._ingest.configs = self.config_pusher  # a reader's new key goes into its config
        # issue 5: work-order notifications (live push, webhook) and periodic jobs
        self.workorders = await enter_work_orders(stack, s, self._sessions, self._live)

        commands = CommandSender(self._sessions, self._mqtt, downlink, self._publisher,
                                 self.config_pusher)
        self.rules.commands, self.rules.live = commands, self._live
        self.rules.boards = self.config_pusher  # rule notices and a site's fire reach the boards
        await stack.enter_async_context(TimerChecker(self.rules, s.rules_check_interval_s))
        await stack.enter_async_context(SilenceSweep(
            self._sessions, s.edge_silence_check_s, rules=self.rules, live=self._live,
            caught_up=self._ingest.caught_up))
        # issue 17: patrol deadlines (missed checkpoints, stopped guards), any worker
        await stack.enter_async_context(PatrolSweep(self._sessions, s.rules_check_interval_s,
                                                    live=self._live))
        await stack.enter_async_context(SnapshotRetention(
            self._sessions, interval_s=s.snapshot_cleanup_interval_s))
        # issue 19: partitions made ahead, then the event and access logs' and alarms' retention
        await stack.enter_async_context(HistoryMaintenance(
            self._sessions, Retention(s.history_event_log_days, s.history_access_days,
                                      s.history_alarm_days),
            ahead=s.history_ahead, interval_s=s.history_interval_s))
        replica = await self._open_replica(stack)
        app = build_app(self._sessions, self._publisher, s, commands, telemetry_sink, signer,
                        self._live, self.config_pusher, replica)
        app[EDGE_CONFIGS] = self._edge_configs
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        # several workers on one port: each its own process, nothing shared but the
        # database and the broker (tokens, login throttling, live pushes all live there)
        site = web.TCPSite(runner, s.http_host, s.http_port,
                           reuse_port=True if s.http_reuse_port else None)
        await site.start()
        host, port = runner.addresses[0][:2]
        self._url = f"http://{host}:{port}"
        log.info("hub serving %s", self._url)

    async def _open_replica(self, stack: AsyncExitStack) -> ReplicaReads | None:
        """issue 19: the API's and console's reads from a streaming replica, if one is set."""
        url = self.settings.database_replica_url
        if url is None:
            return None
        # a replica that does not answer must not hold a read up: fall back to the primary fast
        engine = create_engine(url, connect_args={"connect_timeout": 2})
        stack.push_async_callback(engine.dispose)
        self.replica = await stack.enter_async_context(ReplicaReads(
            self.sessions, create_sessionmaker(engine),
            check_interval_s=self.settings.replica_check_interval_s))
        return self.replica


def _started(value: T | None) -> T:
    if value is None:
        raise RuntimeError("the hub is not running (use `async with Hub(settings) as hub:`)")
    return value


__all__ = ["Hub", "bootstrap_admin", "build_app"]
