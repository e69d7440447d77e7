"""The edge obeys only the hub (issue 14.1), on real parts: a forger on the broker publishes on
the edge's own topics. Each forgery is refused with its reason, the relay of the libosdp door
simulator does not move, the door's decisions stay as they were, and the built-in rule raises
the guards' alarm. On the demo's amqtt broker with SQLite and on Mosquitto with PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from hub.credentials.downlink import DownlinkSigner
from hub.credentials.keys import seed_b64
from hub.texts import render
from tests.support.building import Building, broker, demo_building
from tests.support.mqtt import Collector
from tests.support.services import PostgresServer
from tests.support.waiting import until
from wire import (
    AccessGroupRule,
    CardCredential,
    DoorInfo,
    EdgeCommand,
    PermissionDelta,
    PermissionSnapshot,
    SnapshotContent,
    topics,
)
from wire.signed import seal, unseal

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]
SITE, EDGE = "demo", "b1-edge"
CMD = topics.cmd(SITE, EDGE)
PERM = topics.perm(SITE, EDGE)
DELTA = topics.perm_delta(SITE, EDGE)
FORGED_CARD = "6666"


@pytest.fixture(params=["amqtt+sqlite", "mosquitto+postgres"])
async def b(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Building]:
    broker_kind, db_kind = request.param.split("+")
    if db_kind == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        database_url = server.create_database(f"trust_{secrets.token_hex(4)}")
    else:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    async with broker(broker_kind) as mqtt_port, demo_building(
        tmp_path, mqtt_port=mqtt_port, database_url=database_url,
        shared_group="hub" if broker_kind == "mosquitto" else None,
        doors=(("B1-main", 101), ("B1-garage", 102)),
        signing_key=SecretStr(seed_b64(Ed25519PrivateKey.generate())),
    ) as building:
        yield building


def hub_signer(b: Building) -> DownlinkSigner:
    assert b.hub.downlink is not None
    return b.hub.downlink


def command(name: str = "unlock", *, edge: str = EDGE, age_s: float = 0.0,
            **extra: Any) -> EdgeCommand:
    issued = datetime.now(UTC) - timedelta(seconds=age_s)
    door = {"door": "B1-main"} if name in ("unlock", "lock") else {}
    return EdgeCommand(id=secrets.token_hex(8), site=SITE, edge=edge, ts=issued,
                       expires=issued + timedelta(seconds=30), command=name,  # type: ignore[arg-type]
                       reason="forged", **door, **extra)


def granting_snapshot(version: int) -> bytes:
    """A snapshot that lets FORGED_CARD through B1-main: what a forger would like the edge to hold."""
    content = SnapshotContent(
        site=SITE, edge=EDGE, doors=[DoorInfo(id="B1-main", name="main")],
        groups=[AccessGroupRule(id=1, doors=["B1-main"])],
        credentials=[CardCredential(card=FORGED_CARD, groups=[1])],
    )
    return PermissionSnapshot.build(content, version, datetime.now(UTC)).model_dump_json().encode()


async def refusals(b: Building) -> dict[str, int]:
    return dict(b.agent.downlink.verifier.refused)


async def wait_refused(b: Building, reason: str, before: dict[str, int]) -> None:
    await until(lambda: b.agent.downlink.verifier.refused[reason] > before.get(reason, 0),
                f"a {reason} refusal",
                timeout=5.0)


async def swipe(b: Building, card: str) -> dict[str, Any]:
    """Present `card` at B1-main; the access event the hub stored for it."""
    seen = len([e for e in await b.events(door="B1-main") if e["credential"] == card])
    b.sim.present_card(card)

    async def stored() -> dict[str, Any] | None:
        mine = [e for e in await b.events(door="B1-main") if e["credential"] == card]
        return mine[0] if len(mine) > seen else None
    return await until(stored,
                       f"the access event of card {card}",
                       timeout=10.0)  # type: ignore[no-any-return]


async def relay_still(b: Building, changes: int, settle_s: float = 1.0) -> None:
    await asyncio.sleep(settle_s)
    assert len(b.sim.relay_changes) == changes, "the relay moved"
    assert not b.sim.relay


async def alarm_reasons(b: Building) -> dict[str, dict[str, Any]]:
    page = await b.call("GET", "/alarms?type=downlink_refused&limit=100")
    return {a["dedup_key"].rsplit(":", 1)[1]: a for a in page["items"]}


async def test_every_forgery_is_refused_changes_nothing_and_raises_the_alarm(
        b: Building) -> None:
    spy = await asyncio.to_thread(Collector, "127.0.0.1", b.mqtt_port, CMD, client_id="forger")
    try:
        held = (b.agent.cache.version, b.agent.cache.hash)
        changes = len(b.sim.relay_changes)
        hub = hub_signer(b)
        stranger = DownlinkSigner(Ed25519PrivateKey.generate())

        forgeries: list[tuple[str, str, bytes]] = [
            # a snapshot granting a card, unsigned, as the next version and as a far-future one
            ("unsigned", PERM, granting_snapshot(held[0] + 1)),
            ("unsigned", PERM, granting_snapshot(10**9)),
            # an unsigned unlock, and one signed by a key the edge does not know
            ("unsigned", CMD, command().model_dump_json().encode()),
            ("unknown_key", CMD, stranger.sign(CMD, command().model_dump_json().encode())),
            # a delta from the version the edge reports in its retained state, adding the card
            ("unsigned", DELTA, PermissionDelta(
                site=SITE, edge=EDGE, base_version=held[0], base_hash=held[1] or "0" * 64,
                version=held[0] + 1, hash="f" * 64, issued_at=datetime.now(UTC),
                upsert=[CardCredential(card=FORGED_CARD, groups=[1])],
            ).model_dump_json().encode()),
            # a lockdown, signed by a key the edge does not know
            ("unknown_key", CMD, stranger.sign(CMD, command("lockdown").model_dump_json().encode())),
        ]
        # the hub's key id and a genuine signature, over another body
        kid, signature, _ = unseal(hub.sign(CMD, command("resync").model_dump_json().encode()))
        forgeries.append(("bad_signature", CMD, seal(command().model_dump_json().encode(), kid,
                                                     signature)))
        # a genuine hub command for another building's edge, replayed here
        other = topics.cmd(SITE, "b2-edge")
        forgeries.append(("wrong_target", CMD, hub.sign(
            other, command(edge="b2-edge").model_dump_json().encode())))
        # a genuine hub command delivered two minutes late
        forgeries.append(("stale", CMD, hub.sign(
            CMD, command(age_s=120).model_dump_json().encode())))

        for reason, topic, payload in forgeries:
            before = await refusals(b)
            await asyncio.to_thread(spy.publish, topic, payload, retain=topic == PERM)
            await wait_refused(b, reason, before)
            assert (b.agent.cache.version, b.agent.cache.hash) == held, reason
        await relay_still(b, changes)
        assert not any(door.locked_down for door in b.agent.doors.values())
        denied = await swipe(b, FORGED_CARD)
        assert (denied["result"], denied["reason"]) == ("denied", "unknown_card")

        # a real remote unlock, captured on the wire and replayed once it is over
        door = next(d for d in (await b.call("GET", "/doors"))["items"] if d["name"] == "B1-main")
        await b.call("POST", f"/doors/{door['id']}/unlock",
                     {"reason": "courier", "duration_s": 1}, status=202)
        assert await asyncio.to_thread(b.sim.wait_relay, True, 10.0) is not None
        assert await asyncio.to_thread(b.sim.wait_relay, False, 10.0) is not None
        [genuine] = {p for _, p, _ in spy.messages
                     if p.startswith(b"LSIG1") and b'"reason":"courier"' in unseal(p).body}
        changes = len(b.sim.relay_changes)
        before = await refusals(b)
        await asyncio.to_thread(spy.publish, CMD, genuine)
        await wait_refused(b, "replayed", before)
        await relay_still(b, changes)

        # the guards see each kind, in Chinese and English
        wanted = {"unsigned", "unknown_key", "bad_signature", "wrong_target", "stale", "replayed"}
        found = await until(lambda: _all(alarm_reasons(b), wanted), "the alarms", timeout=15.0)
        for reason, alarm in found.items():
            assert alarm["severity"] == "critical" and alarm["edge"] == EDGE
            assert alarm["message_params"]["reason"]["code"] == f"downlink_reason.{reason}"
            assert "refused a hub message" in alarm["message"]
            assert "拒绝" in render(alarm["message_code"], alarm["message_params"], "zh")
        assert found["unsigned"]["count"] >= 3

        # the count reaches the edge's status with its next state (the change below sends one)
        refused = sum(b.agent.downlink.verifier.refused.values())
        assert refused >= 8 and b.agent.state().downlink_refused == refused

        # and the edge still follows the hub: a real change arrives, the far-future forgery
        # left nothing behind
        groups = await b.call("GET", "/access-groups")
        main_group = next(g for g in groups["items"] if "B1-main" in g["doors"])
        resident = await b.call("POST", "/residents", {"site_id": SITE, "name": "周杰",
                                                        "groups": [main_group["id"]]}, status=201)
        await b.call("POST", "/cards", {"resident_id": resident["id"], "card_number": "4343"},
                     status=201)
        await b.wait_perm_change(held[1], timeout=10.0)
        assert b.agent.cache.version == held[0] + 1
        granted = await swipe(b, "4343")
        assert granted["result"] == "granted"

        async def reported() -> dict[str, Any] | None:
            edges = await b.call("GET", "/edges")
            mine = next(e for e in edges["items"] if e["name"] == EDGE)
            return mine if mine["downlink_refused"] == refused else None

        await until(reported, "the refusals in the edge's status", timeout=10.0)
    finally:
        await asyncio.to_thread(spy.close)


async def _all(found: Any, wanted: set[str]) -> dict[str, dict[str, Any]] | None:
    alarms = await found
    return alarms if wanted <= alarms.keys() else None


async def test_a_bad_version_is_undone_only_by_the_hubs_signed_reset(b: Building) -> None:
    spy = await asyncio.to_thread(Collector, "127.0.0.1", b.mqtt_port, PERM, client_id="spy")
    try:
        hub = hub_signer(b)
        old = await until(lambda: [p for t, p, _ in spy.messages if t == PERM],
                          "the retained snapshot",
                          timeout=5.0)
        old_payload = old[0]
        groups = await b.call("GET", "/access-groups")
        main_group = next(g for g in groups["items"] if "B1-main" in g["doors"])
        resident = await b.call("POST", "/residents", {"site_id": SITE, "name": "吴磊",
                                                        "groups": [main_group["id"]]}, status=201)
        held_hash = b.agent.cache.hash
        await b.call("POST", "/cards", {"resident_id": resident["id"], "card_number": "7001"},
                     status=201)
        await b.wait_perm_change(held_hash, timeout=10.0)
        hub_version = b.agent.cache.version

        # an older genuine snapshot, replayed: refused
        before = await refusals(b)
        await asyncio.to_thread(spy.publish, PERM, old_payload)
        await wait_refused(b, "version_regress", before)
        assert b.agent.cache.version == hub_version

        # a hub-signed snapshot with a far-future version (a hub fault): the edge takes it ...
        await asyncio.to_thread(spy.publish, PERM, hub.sign(PERM, granting_snapshot(10**9)))
        await until(lambda: b.agent.cache.version == 10**9, "the far-future snapshot", timeout=10.0)
        # ... and from then on refuses the hub's real versions
        before = await refusals(b)
        await b.call("POST", "/cards", {"resident_id": resident["id"], "card_number": "7002"},
                     status=201)
        await wait_refused(b, "version_regress", before)
        assert b.agent.cache.lookup_card("7002") is None

        # an unsigned "reset" does nothing; the hub's signed one brings the edge back
        before = await refusals(b)
        await asyncio.to_thread(spy.publish, CMD, command(
            "reset_permissions", perm_version=1, perm_hash="0" * 64).model_dump_json().encode())
        await wait_refused(b, "unsigned", before)
        edges = await b.call("GET", "/edges")
        edge_id = next(e["id"] for e in edges["items"] if e["name"] == EDGE)
        sent = await b.call("POST", f"/edges/{edge_id}/reset-permissions",
                            {"reason": "数据库恢复 database restored"}, status=202)
        assert sent["command"] == "reset_permissions"
        await until(lambda: b.agent.cache.version < 10**9, "the reset", timeout=10.0)
        assert b.agent.cache.lookup_card("7002") is not None
        assert b.agent.cache.lookup_card(FORGED_CARD) is None
        answered = await until(lambda: _answered(b, sent["id"]), "the edge's answer", timeout=10.0)
        assert answered["status"] == "ok"
        # the reset is used up: the old far-future snapshot, replayed, is refused again
        assert b.agent.trust.reset_allowed() is None
    finally:
        await asyncio.to_thread(spy.close)


async def _answered(b: Building, command_id: str) -> dict[str, Any] | None:
    row = await b.call("GET", f"/commands/{command_id}")
    return row if row["status"] != "sent" else None  # type: ignore[no-any-return]


async def test_the_hub_key_rotates_with_the_edge_online(b: Building) -> None:
    first = hub_signer(b).public_key
    assert b.agent.config.hub_keys == [first]  # the edge's file trusts only the first key
    upcoming = Ed25519PrivateKey.generate()
    upcoming_public = DownlinkSigner(upcoming).public_key
    door = next(d for d in (await b.call("GET", "/doors"))["items"] if d["name"] == "B1-main")

    # 1. the hub holds the next key: still signs with the first, tells the edge to accept both
    b.settings = b.settings.model_copy(
        update={"signing_key_next": SecretStr(seed_b64(upcoming))})
    await b.restart_hub()
    await until(lambda: upcoming_public in b.agent.downlink.verifier.accepted,
                "the next key at the edge",
                timeout=15.0)

    # 2. the hub switches to the next key; the edge, never re-provisioned, obeys it
    b.settings = b.settings.model_copy(
        update={"signing_key": SecretStr(seed_b64(upcoming)), "signing_key_next": None})
    await b.restart_hub()
    assert hub_signer(b).public_key == upcoming_public
    # the start-up publish, signed by the new key, names it for QR codes too
    await until(lambda: b.agent.cache.state is not None
                and b.agent.cache.state.hub_public_key == upcoming_public,
                "the snapshot signed by the new key",
                timeout=15.0)
    before = await refusals(b)
    changes = len(b.sim.relay_changes)
    await b.call("POST", f"/doors/{door['id']}/unlock", {"reason": "after the rollover",
                                                         "duration_s": 1}, status=202)
    assert await asyncio.to_thread(b.sim.wait_relay, True, 15) is not None
    assert len(b.sim.relay_changes) > changes
    assert await refusals(b) == before
    # the permissions the new key signs are taken too (a new card)
    held_hash = b.agent.cache.hash
    groups = await b.call("GET", "/access-groups")
    main_group = next(g for g in groups["items"] if "B1-main" in g["doors"])
    resident = await b.call("POST", "/residents", {"site_id": SITE, "name": "郑爽",
                                                    "groups": [main_group["id"]]}, status=201)
    await b.call("POST", "/cards", {"resident_id": resident["id"], "card_number": "8008"},
                 status=201)
    await b.wait_perm_change(held_hash, timeout=10.0)
    await until(lambda: b.agent.cache.lookup_card("8008") is not None, "the new card", timeout=10.0)
    # the delivered key list survives in the edge's trust store
    assert upcoming_public in b.agent.trust.delivered_keys()
