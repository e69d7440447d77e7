"""The benchmarks' loss and duplicate counts on a real PostgreSQL event log: an event stored
twice under two ids is found (the primary key alone could never show it)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from harness.event_log import COMMIT_SETTINGS, commit_latencies_s, count_events, last_commit
from harness.services import PostgresServer
from hub.db import run_migrations

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    pg = PostgresServer(settings=COMMIT_SETTINGS)
    pg.start()
    yield pg
    pg.stop()


@pytest.fixture
def db(server: PostgresServer) -> Iterator[psycopg.Connection[Any]]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    run_migrations(server.create_database(name))
    with psycopg.connect(server.dsn(name), autocommit=True) as conn:
        yield conn


def store(db: psycopg.Connection[Any], edge: str, seq: int, card: str,
          ts: datetime = T0) -> None:
    db.execute(
        "INSERT INTO event_log (id, kind, site_id, edge, device, seq, ts, received_at, data)"
        " VALUES (%s, 'access', 's', %s, 'door-1', %s, %s, now(), %s)",
        (str(uuid.uuid4()), edge, seq, ts,
         json.dumps({"door": "door-1", "credential": card, "result": "granted"})))


def test_a_clean_log_counts_nothing(db: psycopg.Connection[Any]) -> None:
    for seq in (1, 2, 3):
        store(db, "e1", seq, str(seq), T0 + timedelta(seconds=seq))
    counts = count_events(db)
    assert (counts.rows, counts.doubled_by_seq, counts.doubled_by_content, counts.gaps) == (3, 0, 0, 0)
    assert counts.ok(published=3)
    assert not counts.ok(published=4) and counts.lost(published=4) == 1


def test_the_same_event_under_a_new_id_is_doubled_by_seq_and_by_content(
        db: psycopg.Connection[Any]) -> None:
    store(db, "e1", 1, "1001")
    store(db, "e1", 1, "1001")  # re-sent with a new id
    counts = count_events(db)
    assert (counts.rows, counts.doubled_by_seq, counts.doubled_by_content) == (2, 1, 1)
    assert not counts.ok(published=1)


def test_a_copy_with_a_new_sequence_number_is_caught_by_its_content(
        db: psycopg.Connection[Any]) -> None:
    store(db, "e1", 1, "1001")
    store(db, "e1", 2, "1001")  # an edge that lost its sequence and sent it again
    counts = count_events(db)
    assert (counts.doubled_by_seq, counts.doubled_by_content) == (0, 1)


def test_a_hole_in_an_edges_sequence_is_a_gap(db: psycopg.Connection[Any]) -> None:
    for seq in (1, 2, 4):
        store(db, "e1", seq, str(seq), T0 + timedelta(seconds=seq))
    store(db, "e2", 1, "x")
    assert count_events(db).gaps == 1


def test_times_are_taken_at_the_commit(db: psycopg.Connection[Any]) -> None:
    before = datetime.now(UTC)
    store(db, "e1", 1, "1", ts=before)
    assert last_commit(db) >= before
    (latency,) = commit_latencies_s(db)
    assert 0 <= latency < 5
