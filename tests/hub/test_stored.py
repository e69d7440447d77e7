"""Stored confirmations on a real broker and database (SQLite and PostgreSQL): what the hub
commits it confirms to the edge, signed, by sequence ranges; it keeps per edge how far every
number is stored and where the gaps are."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from edge.config import parse_config
from edge.outbox import Outbox
from edge.trust import DownlinkVerifier
from edge.uplink import Uplink
from harness.stored import RecordingGate
from hub.ingest import Ingest, hub_subscriptions
from hub.models import DeadLetter, Edge, EdgeUplink, EventIdOutlier, EventLog, UplinkRange
from hub.mqtt import MqttClient
from hub.seed import seed_demo
from hub.stored import StoredConfirmer, UplinkFolder, fold_edge, progress
from tests.hub.support import access_event, dumps, edge_client, event_topic
from tests.support.downlink import HUB_KEYS, SIGNER
from tests.support.services import MosquittoServer
from tests.support.waiting import until
from wire import AccessData, CommandAck, EdgeState, StoredRanges, topics
from wire._base import utcnow
from wire.stored import payload_digest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

STORED = topics.stored("demo", "b1-edge")


def grant(n: int) -> AccessData:
    return AccessData(door="B1-main", credential=str(1000 + n), result="granted",
                      reason="granted", decision_us=10)


@pytest.fixture
async def seeded(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    await seed_demo(sessions)
    return sessions


@pytest.fixture
async def hub(mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession]
              ) -> AsyncIterator[Ingest]:
    mqtt = MqttClient(host=mosquitto.host, port=mosquitto.port, client_id="hub-1",
                      subscriptions=hub_subscriptions("hub"))
    async with (mqtt, StoredConfirmer(mqtt, SIGNER, interval_s=0.05) as confirmer,
                Ingest(seeded, mqtt, confirmer=confirmer) as ingest):
        await mqtt.wait_ready(10)
        yield ingest


async def handled(sessions: async_sessionmaker[AsyncSession], n: int) -> None:
    """Until `n` events are stored or refused: each in a batch after the one before (the hub
    being idle says nothing of a message still on its way)."""
    async def done() -> bool:
        async with sessions() as session:
            stored = len((await session.execute(select(EventLog.id))).all())
            refused = len((await session.execute(select(DeadLetter.id))).all())
        return stored + refused >= n

    await until(done)


async def test_committed_sequence_numbers_are_confirmed_signed_and_kept_with_their_gaps(
    mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession], hub: Ingest
) -> None:
    verifier = DownlinkVerifier(HUB_KEYS, site="demo", edge="b1-edge")
    confirmed: list[tuple[int, int]] = []
    async with edge_client(mosquitto.host, mosquitto.port, subscriptions=[(STORED, 1)]) as edge:
        await edge.wait_ready(10)
        events = [access_event(seq) for seq in (1, 2, 3, 4, 5, 7, 10, 11, 14)]
        for event in events:
            await edge.publish(event_topic(event), dumps(event), qos=1)
        await edge.publish(event_topic(events[0]), dumps(events[0]), qos=1)  # a resend
        ack = CommandAck(id="c1", ts=utcnow(), result="ok", seq=6)
        await edge.publish(topics.cmd_ack("demo", "b1-edge"), ack.model_dump_json().encode())
        # breaks the contract (a kind the hub does not know) but came from the outbox as seq 8:
        # kept as a dead letter, and confirmed so the edge stops sending it
        await edge.publish(event_topic(events[0]),
                           dumps({**access_event(8), "kind": "teleport"}), qos=1)

        async def all_confirmed() -> bool:
            while not edge.messages.empty():
                message = edge.messages.get_nowait()
                body = StoredRanges.model_validate_json(verifier.verify(message.topic,
                                                                       message.payload))
                confirmed.extend(body.ranges)
                edge.ack(message)
            seqs = {s for a, b in confirmed for s in range(a, b + 1)}
            return seqs >= {1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 14}

        await until(all_confirmed)
    assert {s for a, b in confirmed for s in range(a, b + 1)} == {1, 2, 3, 4, 5, 6, 7, 8, 10,
                                                                  11, 14}
    await hub.wait_idle()
    async with seeded() as session:
        now = await progress(session, "demo", "b1-edge")
    assert (now.stored_through, now.gaps, now.missing, now.highest_stored) == (
        8, [(9, 9), (12, 13)], 3, 14)

    await UplinkFolder(seeded).run_once()  # folded: the same answer
    async with seeded() as session:
        assert await progress(session, "demo", "b1-edge") == now
        through = await session.scalar(select(EdgeUplink.stored_through))
        rows = (await session.execute(select(UplinkRange.first_seq, UplinkRange.last_seq)
                                      .order_by(UplinkRange.first_seq))).all()
    # the events are counted from event_log; the ack (6) and the dead letter (8) had rows of
    # their own, passed now
    assert (through, [tuple(r) for r in rows]) == (8, [])


async def test_folding_joins_ranges_from_several_workers_and_drops_repeats(
    seeded: async_sessionmaker[AsyncSession]
) -> None:
    async with seeded() as session, session.begin():
        session.add_all([UplinkRange(site_id="demo", edge="e9", first_seq=a, last_seq=b)
                         for a, b in [(101, 200), (1, 100), (50, 60), (301, 400), (201, 250)]])
    async with seeded() as session, session.begin():
        await fold_edge(session, "demo", "e9")
    async with seeded() as session, session.begin():
        session.add(UplinkRange(site_id="demo", edge="e9", first_seq=251, last_seq=300))
    async with seeded() as session, session.begin():
        await fold_edge(session, "demo", "e9")
        assert await session.scalar(select(EdgeUplink.stored_through).where(
            EdgeUplink.edge == "e9")) == 400
        assert list(await session.scalars(select(UplinkRange.id).where(
            UplinkRange.edge == "e9"))) == []


async def test_the_edge_state_carries_what_waits_in_its_outbox(
    mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession], hub: Ingest
) -> None:

    state = {"status": "online", "agent_version": "1", "outbox_waiting": 1234,
             "outbox_last_seq": 99_000}
    async with edge_client(mosquitto.host, mosquitto.port) as edge:
        await edge.wait_ready(10)
        await edge.publish(topics.state("demo", "b1-edge"), json.dumps(state).encode())

    async def reported() -> bool:
        async with seeded() as session:
            row = (await session.execute(select(Edge).where(Edge.name == "b1-edge"))).scalar_one()
        return (row.outbox_waiting, row.outbox_last_seq) == (1234, 99_000)

    await until(reported)


async def test_a_message_is_confirmed_with_its_own_digest_and_an_impostor_never_as_the_stored_event(
    mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession], hub: Ingest
) -> None:
    """Each seq is confirmed with the digest of the very message committed under it. A forged
    event carrying the edge's seq 2 is stored (the hub cannot tell it from a real one) and
    confirmed with its own digest, which is not the real seq 2's: the edge keeps that one (see
    tests/edge: test_a_confirmation_for_another_message_under_the_seq_deletes_nothing). An
    impostor reusing a stored event's id is not taken for that event: it is a dead letter."""
    verifier = DownlinkVerifier(HUB_KEYS, site="demo", edge="b1-edge")
    real = [access_event(seq) for seq in (1, 2)]
    forged = access_event(2, card="6666")  # another id, the real event's seq
    impostor = {**access_event(3, card="7777"), "id": real[0]["id"]}  # a stored id, other content
    sent = [dumps(event) for event in (*real, forged, impostor)]
    confirmed: set[tuple[int, str]] = set()
    async with edge_client(mosquitto.host, mosquitto.port, subscriptions=[(STORED, 1)]) as edge:
        await edge.wait_ready(10)
        for n, (payload, event) in enumerate(zip(sent, (*real, forged, impostor), strict=True),
                                             start=1):
            await edge.publish(event_topic(event), payload, qos=1)
            await handled(seeded, n)  # one after the other: the impostor comes after the real one

        async def all_confirmed() -> bool:
            while not edge.messages.empty():
                message = edge.messages.get_nowait()
                body = StoredRanges.model_validate_json(verifier.verify(message.topic,
                                                                       message.payload))
                confirmed.update(body.confirmed())
                edge.ack(message)
            return len(confirmed) >= 4

        await until(all_confirmed)
    assert confirmed == {(1, payload_digest(sent[0])), (2, payload_digest(sent[1])),
                         (2, payload_digest(sent[2])), (3, payload_digest(sent[3]))}
    async with seeded() as session:
        rows = (await session.execute(select(EventLog.id, EventLog.seq, EventLog.data))).all()
        dead = (await session.execute(select(DeadLetter.payload, DeadLetter.reason))).all()
    assert sorted((r.seq, r.data["credential"]) for r in rows) == [(1, "1001"), (2, "1001"),
                                                                   (2, "6666")]
    assert {r.id for r in rows if r.seq == 1} == {real[0]["id"]}  # still the real event
    assert [bytes(d.payload) for d in dead] == [sent[3]]  # kept as it came: confirmed as that
    assert f"event id {real[0]['id']} is already stored as another event" in dead[0].reason


async def test_an_edge_whose_outbox_was_wiped_is_told_to_number_on_after_what_it_used(
    tmp_path: Path, mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession],
    hub: Ingest
) -> None:
    """An outbox file wiped starts again at seq 1. Its first messages (decided while the hub
    had not yet said a word) are stored and, confirmed by digest, leave it; its state shows
    the hub it writes below the 5 it used, and the hub's signed `stored` says to continue
    after 5: no number means two messages from then on, and nothing was lost."""
    config = parse_config({"site": "demo", "edge": "b1-edge", "data_dir": str(tmp_path),
                           "mqtt": {"port": mosquitto.port, "resend_after_s": 1.0}})

    def state() -> EdgeState:
        return EdgeState(status="online", agent_version="test", keepalive_s=15)

    async def drained(box: Outbox) -> bool:
        return len(box) == 0

    first = Outbox(tmp_path / "outbox.db", site="demo", edge="b1-edge")
    async with Uplink(config, first, state=state, version="test",
                      gate=RecordingGate("demo", "b1-edge", HUB_KEYS)) as uplink:
        for i in range(5):
            first.add_event("B1-main", grant(i))
        uplink.wake()
        await until(lambda: drained(first))
        uplink.publish_state()  # the hub hears it used 1..5
        await hub.wait_idle()
        await until(lambda: _last_seq(seeded, 5))
    first.close()

    (tmp_path / "outbox.db").unlink()  # wiped (its -wal and -shm went with the close)
    box = Outbox(tmp_path / "outbox.db", site="demo", edge="b1-edge")
    early = [box.add_event("B1-main", grant(i)).seq for i in (10, 11)]  # offline meanwhile
    assert early == [1, 2]
    gate = RecordingGate("demo", "b1-edge", HUB_KEYS)
    async with Uplink(config, box, state=state, version="test", gate=gate) as uplink:
        await until(lambda: box.last_seq == 5)  # told by the hub
        assert box.add_event("B1-main", grant(12)).seq == 6
        uplink.wake()
        await until(lambda: drained(box))
        assert gate.refused == [] and uplink.refusals == 0
    box.close()
    await hub.wait_idle()
    async with seeded() as session:
        seqs = sorted((await session.scalars(select(EventLog.seq))).all())
    # the early two share numbers with the first life (counted twice by seq, stored once
    # each by id), and the numbering is unique again from there
    assert seqs == [1, 1, 2, 2, 3, 4, 5, 6]


async def _last_seq(sessions: async_sessionmaker[AsyncSession], seq: int) -> bool:
    async with sessions() as session:
        found = await session.scalar(select(Edge.outbox_last_seq).where(Edge.name == "b1-edge"))
    return found == seq


async def test_an_id_reused_under_another_ts_is_found_however_far_in_time_it_was_stored(
    mosquitto: MosquittoServer, seeded: async_sessionmaker[AsyncSession], hub: Ingest
) -> None:
    """The ingest looks for a reused id only in the days around the time its UUIDv7 id carries
    (a cost that does not grow with the history), and keeps the ids of events stored far from
    that time apart: a reuse is refused whichever of the two came first."""
    now = datetime.now(UTC)
    old = (now - timedelta(days=40)).isoformat()
    stamped_late = {**access_event(1), "ts": old}  # a fresh id, a ts 40 days before it
    recent = access_event(2)
    impostors = [{**access_event(3, card="7777"), "id": stamped_late["id"]},  # near its id
                 {**access_event(4, card="8888"), "id": recent["id"], "ts": old}]
    async with edge_client(mosquitto.host, mosquitto.port) as edge:
        await edge.wait_ready(10)
        for n, event in enumerate((stamped_late, recent, *impostors), start=1):
            await edge.publish(event_topic(event), dumps(event), qos=1)
            await handled(seeded, n)
    async with seeded() as session:
        rows = (await session.execute(select(EventLog.seq, EventLog.data))).all()
        dead = (await session.execute(select(DeadLetter.reason))).scalars().all()
        kept = (await session.execute(select(EventIdOutlier.id))).scalars().all()
        postgres = session.get_bind().dialect.name == "postgresql"
    assert sorted((r.seq, r.data["credential"]) for r in rows) == [(1, "1001"), (2, "1001")]
    assert len(dead) == 2 and all("is already stored as another event" in d for d in dead)
    # on PostgreSQL (key (id, ts)) the id stored far from its time is noted for later looks
    assert kept == ([stamped_late["id"]] if postgres else [])
