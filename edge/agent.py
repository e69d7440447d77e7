"""The edge agent: assembles the stores, the doors, the building's devices and cameras, the
uplink and the handlers of what the hub sends; the work is done by the parts it assembles."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Self
from zoneinfo import ZoneInfo

from edge import __version__
from edge.access.cache import PermissionCache
from edge.access.decision import AccessDecider, Decision
from edge.access.passback import PassbackLog
from edge.access.tokens import CredentialLedger, SignedCredentialDecider, SignedDecision
from edge.boards import BoardSupervisor
from edge.boards.pages import Emergency
from edge.cameras.supervisor import CameraSupervisor
from edge.commands import CommandHandler, Result
from edge.config import EdgeConfig
from edge.config_sync import ConfigStore, ConfigSync
from edge.devices import DeviceSupervisor
from edge.disk import DiskWatch, watch_disk
from edge.doors import Door, DoorController
from edge.homesec import HomeSecurity
from edge.meters import MeterSupervisor
from edge.outbox import Outbox
from edge.permissions import PermissionSync
from edge.reader_keys import ReaderKeyStore, seal_key
from edge.report import Reporter
from edge.tasks import Tasks
from edge.trust import DownlinkGate, DownlinkVerifier, TrustStore
from edge.uplink import Uplink
from edge.vehicles import InsideLog, LaneServer, VehicleLanes
from wire import EdgeCommand, EdgeState, topics
from wire.config import ConfigContent
from wire.permissions import PermissionSnapshot
from wire.tokens import BleAnswer, BleChallenge

log = logging.getLogger(__name__)


class EdgeAgent:
    """`async with EdgeAgent(config) as agent:` runs the building's doors until exit."""

    # opened on entering, in this order
    outbox: Outbox
    cache: PermissionCache
    passback: PassbackLog
    ledger: CredentialLedger
    decider: AccessDecider
    signed: SignedCredentialDecider
    uplink: Uplink
    report: Reporter
    door_control: DoorController
    permissions: PermissionSync
    commands: CommandHandler
    disk: DiskWatch
    trust: TrustStore
    downlink: DownlinkGate
    configs: ConfigSync
    devices: DeviceSupervisor
    homesec: HomeSecurity
    cameras: CameraSupervisor
    meters: MeterSupervisor
    boards: BoardSupervisor

    def __init__(self, config: EdgeConfig) -> None:
        self.config = config
        # wall clock (aware UTC) for decisions, schedules and commands; tests may replace it
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._stack = contextlib.AsyncExitStack()
        self._tasks = Tasks()
        self._site_fire = False  # the hub relays a fire elsewhere on the site to the boards

    def _seal(self, key: bytes, where: str) -> str | None:
        """A reader's new key sealed to the hub key the snapshot names (the key the hub signs
        with now), else the first this edge was provisioned with; `where` is door/address."""
        state, cfg = self.cache.state, self.config
        hub = state.hub_public_key if state is not None else None
        hub = hub or (cfg.hub_keys[0] if cfg.hub_keys else None)
        return None if hub is None else seal_key(key, hub, f"{cfg.site}/{cfg.edge}/{where}")

    def _now(self) -> datetime:
        return self.clock()  # read at each call: a test may swap the clock while running

    # --- lifecycle -------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        cfg, stack = self.config, self._stack
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.outbox = stack.enter_context(contextlib.closing(
                Outbox(cfg.data_dir / "outbox.db", site=cfg.site, edge=cfg.edge)))
            self.cache = stack.enter_context(contextlib.closing(
                PermissionCache(cfg.data_dir / "permissions.db")))
            self.passback = stack.enter_context(contextlib.closing(
                PassbackLog(cfg.data_dir / "passback.db")))
            self.ledger = stack.enter_context(contextlib.closing(
                CredentialLedger(cfg.data_dir / "credentials.db")))
            self.trust = stack.enter_context(contextlib.closing(
                TrustStore(cfg.data_dir / "trust.db")))
            self.decider = AccessDecider(self.cache, self.passback)
            self.signed = SignedCredentialDecider(self.cache, self.ledger)
            self.report = Reporter(self.outbox, edge=cfg.edge, wake=lambda: self.uplink.wake())
            # the edge obeys only what the hub signs (principle 7): its file names the keys
            verifier = DownlinkVerifier(cfg.hub_keys, site=cfg.site, edge=cfg.edge)
            verifier.set_delivered(self.trust.delivered_keys())
            self.downlink = DownlinkGate(verifier, self.report.downlink_refused, store=self.trust)
            # the same gate for `stored`: only a verified confirmation lets an event go
            self.uplink = Uplink(cfg, self.outbox, state=self.state, version=__version__,
                                 gate=self.downlink)
            if not cfg.hub_keys:
                log.error("no hub_keys in the configuration: every message from the hub is "
                          "refused")
            # what it drives: the hub's configuration stored last, else the file's sections
            self.configs = ConfigSync(cfg.installation(), site=cfg.site, edge=cfg.edge,
                                      gate=self.downlink, report=self.report,
                                      published=self.uplink.publish_state,
                                      store=ConfigStore(cfg.data_dir / "config.sealed"))
            self.configs.restore(verifier)
            # the parts start empty; the installation is applied to them like any later one
            self.door_control = await stack.enter_async_context(DoorController(
                [], cache=self.cache, decider=self.decider, signed=self.signed,
                report=self.report, clock=self._now, tick_s=cfg.tick_s,
                keys=ReaderKeyStore(cfg.data_dir / "reader-keys.json"), seal=self._seal))
            await stack.enter_async_context(self.uplink)
            # units' alarms: armed here, so they hold with the hub away (and across restarts)
            self.homesec = await stack.enter_async_context(HomeSecurity(
                self.report.event, cfg.data_dir / "homesec.json", time.monotonic,
                lambda: self._now().astimezone(self._site_zone()),
                snapshot=lambda camera: self.cameras.snapshot(camera)))
            self.devices = await stack.enter_async_context(DeviceSupervisor(
                [], self.report.event, self.door_control.fire, self._zone_states))
            self.door_control.elevators = self.devices
            self.cameras = await stack.enter_async_context(CameraSupervisor(
                [], self.report.event, self._camera_qr, data_dir=cfg.data_dir,
                uploads=cfg.uploads, timezone_of_site=self._site_zone))
            self.boards = await stack.enter_async_context(BoardSupervisor(
                self.devices, self.report.event, clock=self._now, emergency=self._emergency,
                rotate_s=cfg.board_rotate_s))
            self.meters = await stack.enter_async_context(MeterSupervisor(
                [], self.report.event, timezone_of_site=self._site_zone, clock=self._now))
            inside = stack.enter_context(contextlib.closing(
                InsideLog(cfg.data_dir / "vehicles-inside.db")))
            self.vehicles = VehicleLanes(self.report.event, spool=self.cameras.spool,
                                         clock=self._now, path=cfg.data_dir / "vehicles.json",
                                         inside=inside, lines=self.devices)
            self.vehicles.restore()
            stack.push_async_callback(self.vehicles.close)
            self.lane_server: LaneServer | None = None
            self.configs.attach(self._apply_installation)
            await self.configs.start()
            self.permissions = PermissionSync(self.cache, site=cfg.site, edge=cfg.edge,
                                              report=self.report,
                                              published=self.uplink.publish_state,
                                              gate=self.downlink,
                                              on_applied=self._snapshot_applied)
            self.commands = CommandHandler(self.door_control, self.devices, homesec=self.homesec,
                                           lanes=self.vehicles,
                                           site=cfg.site,
                                           edge=cfg.edge, report=self.report,
                                           resync=self.uplink.publish_state, clock=self._now,
                                           gate=self.downlink, trust=self.trust)
            self._tasks.spawn(self._incoming(), "incoming")
            self._tasks.spawn(self.downlink.run(), "downlink-refusals")
            self.disk = DiskWatch(cfg.data_dir, cfg.disk_low_mb * 1_000_000)
            self._tasks.spawn(watch_disk(self.disk, self.outbox, self.report,
                                         every_s=cfg.disk_check_s), "disk-watch")
            self.report.agent("started", f"lintel edge {__version__}, {len(self.doors)} doors")
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.report.agent("stopping", "agent stopping")
        await self._close()

    async def _close(self) -> None:
        await self._tasks.cancel()
        await self._stack.aclose()

    def state(self) -> EdgeState:
        refused = self.configs.refused
        return EdgeState(
            status="online", agent_version=__version__,
            perm_version=self.cache.version, perm_hash=self.cache.hash,
            config_version=self.configs.version, config_hash=self.configs.hash,
            config_refused_version=refused[0] if refused else None,
            config_refused=refused[1] if refused else None,
            downlink_refused=sum(self.downlink.verifier.refused.values()),
        )

    async def _apply_installation(self, content: ConfigContent) -> None:
        """Reconcile the running parts to `content` (resolved): devices first (a car reader
        names its elevator), then doors, then cameras (a camera names its door)."""
        devices = await self.devices.reconcile(content.devices)
        models = self.devices.models
        self.homesec.reconcile((d, models[d.model]) for d in content.devices)
        doors = await self.door_control.reconcile(content.doors)
        cameras = await self.cameras.reconcile(content.cameras)
        meters = await self.meters.reconcile(content.lines, content.meters)
        self.boards.set_notices(content.board_notices)
        self._site_fire = content.board_emergency == "fire"
        await self._reconcile_lanes(content)
        log.info("installation applied: (re)started doors %s, devices %s, cameras %s, "
                 "meters %s, lanes %s", doors, devices, cameras, meters,
                 [lane.id for lane in content.lanes])

    def _zone_states(self, device: str, states: dict[int, str] | None) -> None:
        if states is None:
            self.homesec.panel_lost(device)
        else:
            self.homesec.zones_polled(device, states)

    def _emergency(self) -> Emergency | None:
        """What takes the LED boards over: this edge's fire alarm or one elsewhere on the site
        (the hub's signed configuration says so), else its lockdown (the hub's command, or a
        door locked down)."""
        if self.devices.fire_active or self._site_fire:
            return "fire"
        if self.door_control.locked_down or any(d.locked_down for d in self.doors.values()):
            return "lockdown"
        return None

    # --- vehicle lanes -------------------------------------------------------------------
    async def _reconcile_lanes(self, content: ConfigContent) -> None:
        """The lane server starts with the first lane; later installations change its lanes
        in place (a camera's next push meets the new settings)."""
        if self.lane_server is None and content.lanes:
            cfg = self.config
            self.lane_server = await self._stack.enter_async_context(LaneServer(
                list(content.lanes), self.vehicles.on_reading, self.vehicles.on_refused,
                host=cfg.lanes_host, port=cfg.lanes_port,
                on_heartbeat=self.vehicles.on_heartbeat))
        elif self.lane_server is not None:
            self.lane_server.lanes = {lane.id: lane for lane in content.lanes}
        await self.vehicles.set_lanes(list(content.lanes))

    def _snapshot_applied(self, snapshot: PermissionSnapshot) -> None:
        self.vehicles.apply(snapshot.vehicles)

    # --- messages from the hub ---------------------------------------------------------
    async def _incoming(self) -> None:
        site, edge = self.config.site, self.config.edge
        perm, delta, cmd = topics.perm(site, edge), topics.perm_delta(site, edge), topics.cmd(site, edge)
        config = topics.config(site, edge)
        while True:
            topic, payload = await self.uplink.incoming.get()
            try:
                # each handler verifies the hub's signature before anything else
                if topic == perm:
                    await self.permissions.snapshot(topic, payload)
                elif topic == delta:
                    await self.permissions.delta(topic, payload)
                elif topic == cmd:
                    self.commands.handle(topic, payload)
                elif topic == config:
                    await self.configs.handle(topic, payload)
            except Exception:
                log.exception("message on %s failed", topic)

    # --- what tests, benchmarks and simulators call ------------------------------------
    @property
    def doors(self) -> dict[str, Door]:
        return self.door_control.doors

    def card_read(self, door: Door, card: str) -> Decision:
        return self.door_control.card_read(door, card)

    def qr_read(self, door: Door, text: bytes | str) -> SignedDecision:
        return self.door_control.qr_read(door, text)

    def ble_challenge(self, door_id: str) -> BleChallenge:
        return self.door_control.ble_challenge(door_id)

    def ble_answer(self, door_id: str, answer: BleAnswer) -> SignedDecision:
        return self.door_control.ble_answer(door_id, answer)

    def execute(self, command: EdgeCommand) -> tuple[Result, str]:
        return self.commands.execute(command)

    # --- cameras -------------------------------------------------------------------------
    def _camera_qr(self, camera: str, door_id: str, text: str) -> None:
        """A QR code in view of a camera that reads for `door_id`: the reader's decision."""
        self.door_control.qr_read(self.doors[door_id], text)

    def _site_zone(self) -> ZoneInfo:
        state = self.cache.state
        return state.timezone if state is not None else ZoneInfo("UTC")
