"""Configuration sync: the hub's signed installation (wire.config) applied live.

A configuration arrives on `config` (retained). It is acted on only when the hub's signature
verifies for this edge (edge.trust) and its version is newer than the one running; then the
edge checks it can run all of it (edge.installation: device models known, serial ports
present) and applies it without a restart: each part reconciles by id, so untouched doors,
devices and cameras keep running. A configuration that fails any step is refused as a whole,
with its reason, in an agent event and in the edge's retained state; the previous one keeps
running. The last one applied is kept on disk, sealed as the hub sent it, and run at start-up
when the hub cannot be reached.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import ValidationError

from edge.installation import Refusal, check_supported
from edge.report import Reporter
from edge.trust import DownlinkGate, DownlinkRefused, DownlinkVerifier
from wire import topics
from wire._base import describe
from wire.config import ConfigContent, ConfigSnapshot

log = logging.getLogger(__name__)

Apply = Callable[[ConfigContent], Awaitable[None]]  # reconcile the running parts to it
_VERSION = re.compile(rb'"version":(\d+),"hash":"[0-9a-f]{64}"')  # the tail the hub writes


class ConfigStore:
    """The sealed payload of the configuration applied last (one file under data_dir),
    written atomically: a power cut leaves the old one or the new one, never half of one."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def save(self, payload: bytes) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class ConfigSync:
    """Holds the installation running (`content`, `version`, `hash`) and the last refusal
    (`refused`: version and reason), and applies what the hub sends (`handle`)."""

    def __init__(self, initial: ConfigContent, *, site: str, edge: str, gate: DownlinkGate,
                 report: Reporter, published: Callable[[], None], store: ConfigStore) -> None:
        self.content = initial
        self.version: int | None = None
        self.hash: str | None = None
        self.refused: tuple[int | None, str] | None = None
        self._site, self._edge = site, edge
        self._gate = gate
        self._report = report
        self._published = published
        self._store = store
        self._apply: Apply | None = None
        self._lock = asyncio.Lock()

    @property
    def topic(self) -> str:
        return topics.config(self._site, self._edge)

    def restore(self, verifier: DownlinkVerifier) -> None:
        """At start-up: the configuration stored last, when it is still the hub's (its
        signature verifies with the keys accepted now) and this edge's; else the file's."""
        payload = self._store.load()
        if payload is None:
            return
        try:
            body = verifier.verify(self.topic, payload)
            snapshot = ConfigSnapshot.model_validate_json(body)
        except (DownlinkRefused, ValidationError) as exc:
            log.error("stored configuration %s not used: %s", self._store.path, exc)
            return
        if (snapshot.site, snapshot.edge) != (self._site, self._edge):
            log.error("stored configuration %s names %s/%s: not used", self._store.path,
                      snapshot.site, snapshot.edge)
            return
        self.content = snapshot.content()
        self.version, self.hash = snapshot.version, snapshot.hash
        log.info("running the stored configuration v%d until the hub's arrives", self.version)

    def attach(self, apply: Apply) -> None:
        """The agent's reconcile step, once its parts run."""
        self._apply = apply

    async def start(self) -> None:
        """Apply the installation held at start-up (the stored one, else the file's). One that
        will not start (a serial port gone since) leaves the edge running nothing but up and
        reachable: the refusal is reported and the hub's configuration is taken again when it
        arrives, even at the same version."""
        try:
            await self._run(self.content)
        except Exception as exc:
            log.exception("the installation held at start-up failed to start")
            empty = ConfigContent.model_construct(site=self._site, edge=self._edge, lines=[],
                                                  doors=[], devices=[], cameras=[])
            try:
                await self._run(empty)
            except Exception:
                log.exception("stopping what had started failed as well")
            version = self.version
            self.content, self.version, self.hash = empty, None, None
            self._refuse(version, Refusal("apply_failed", f"at start-up: {type(exc).__name__}: "
                                                          f"{exc}"))

    async def handle(self, topic: str, payload: bytes) -> None:
        """One message on `config`; a refusal is reported, never raised."""
        if not payload:
            return  # a cleared retained message: keep running what runs
        body = self._gate.open(topic, payload)  # a forgery is a security event (edge.trust)
        if body is None:
            return
        async with self._lock:  # one configuration at a time
            await self._take(topic, payload, body)

    async def _take(self, topic: str, payload: bytes, body: bytes) -> None:
        try:
            snapshot = await asyncio.to_thread(ConfigSnapshot.model_validate_json, body)
        except ValidationError as exc:
            found = _VERSION.search(body[-300:])
            self._refuse(int(found[1]) if found else None,
                         Refusal("invalid", f"invalid configuration: {describe(exc)}"))
            return
        if not self._gate.for_me(topic, snapshot.site, snapshot.edge):
            return
        held = self.version or 0
        if (snapshot.version, snapshot.hash) == (self.version, self.hash):
            return  # running it already (the retained copy after a restart)
        store = self._gate.store
        reset = store is not None and store.reset_allowed("config") == (snapshot.version,
                                                                       snapshot.hash)
        if snapshot.version <= held and not reset:
            self._gate.refuse(topic, DownlinkRefused(
                "version_regress", f"configuration v{snapshot.version} offered, v{held} runs: "
                "a replay of an older configuration, or the hub's versions went back (reset the "
                "edge's configuration from the hub)"))
            return
        content = snapshot.content()
        problem = await asyncio.to_thread(check_supported, content, ports=True)
        if problem is not None:
            self._refuse(snapshot.version, problem)
            return
        previous = self.content
        try:
            await self._run(content)
        except Exception as exc:  # a port that would not open, a driver that failed
            log.exception("configuration v%d failed to apply; back to the previous one",
                          snapshot.version)
            try:
                await self._run(previous)
            except Exception:
                log.exception("the previous configuration failed to come back as well")
            self._refuse(snapshot.version, Refusal("apply_failed", f"{type(exc).__name__}: {exc}"))
            return
        await asyncio.to_thread(self._store.save, payload)
        self.content, self.version, self.hash = content, snapshot.version, snapshot.hash
        if reset and store is not None:
            store.reset_done("config")  # used up: only that configuration, once
        if self.refused is not None and (self.refused[0] or 0) <= snapshot.version:
            self.refused = None
        self._report.agent(
            "config_applied", f"configuration v{snapshot.version}: {len(content.doors)} doors, "
            f"{len(content.devices)} devices, {len(content.cameras)} cameras, "
            f"{len(content.meters)} meters, {len(content.lines)} lines", config_version=snapshot.version)
        self._published()

    async def _run(self, content: ConfigContent) -> None:
        if self._apply is None:
            raise RuntimeError("no parts attached to apply a configuration to")
        await self._apply(content.resolved())

    def _refuse(self, version: int | None, refusal: Refusal) -> None:
        log.error("configuration v%s refused (%s): %s", version, refusal.reason, refusal.detail)
        self.refused = (version, f"{refusal.reason}: {refusal.detail}"[:2000])
        self._report.agent("config_refused", refusal.detail[:2000], reason=refusal.reason,
                           config_version=version, topic=self.topic)
        self._published()


__all__ = ["ConfigStore", "ConfigSync"]
