"""Loss and duplicates in the hub's event log (PostgreSQL), counted so that the check can fail.

The key is the event id (with its ts: the table is partitioned by time), so counting distinct
ids can never find a duplicate. An event sent twice under two ids is found instead by its
`(site, edge, seq)` and by its content
(everything but the id and the sequence number). `resend_with_new_ids` makes exactly that
fault on purpose, to show the counts catch it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from wire import new_event_id, topics

# Stamped by PostgreSQL at the commit of the row's transaction: needs track_commit_timestamp.
COMMIT_SETTINGS = {"track_commit_timestamp": "on"}


@dataclass(frozen=True, slots=True)
class EventLogCounts:
    rows: int
    by_seq: int  # distinct (site, edge, seq)
    by_content: int  # distinct (site, edge, device, kind, ts, data)
    gaps: int  # sequence numbers missing below each edge's highest stored one

    @property
    def doubled_by_seq(self) -> int:
        return self.rows - self.by_seq

    @property
    def doubled_by_content(self) -> int:
        return self.rows - self.by_content

    def lost(self, published: int) -> int:
        """Events published (and acknowledged) but not stored, by (edge, seq)."""
        return max(0, published - self.by_seq)

    def text(self, published: int) -> str:
        return (f"stored {self.rows:,} of {published:,}; lost {self.lost(published)} by (edge, "
                f"seq), {self.gaps} gaps in the sequences; doubled {self.doubled_by_seq} by "
                f"(edge, seq), {self.doubled_by_content} by content")

    def ok(self, published: int) -> bool:
        return not (self.lost(published) or self.gaps or self.doubled_by_seq
                    or self.doubled_by_content)


def count_events(db: psycopg.Connection[Any]) -> EventLogCounts:
    row = db.execute(
        "SELECT count(*), count(DISTINCT (site_id, edge, seq)),"
        " count(DISTINCT (site_id, edge, device, kind, ts, data::text)) FROM event_log"
    ).fetchone()
    gaps = db.execute(
        "SELECT coalesce(sum(top - n), 0) FROM (SELECT max(seq) AS top,"
        " count(DISTINCT seq) AS n FROM event_log GROUP BY site_id, edge) AS per_edge"
    ).fetchone()
    assert row is not None and gaps is not None
    return EventLogCounts(rows=row[0], by_seq=row[1], by_content=row[2], gaps=int(gaps[0]))


def commit_latencies_s(db: psycopg.Connection[Any]) -> list[float]:
    """Seconds from each event's `ts` (set when it was published) to its row's commit."""
    rows = db.execute(
        "SELECT EXTRACT(EPOCH FROM pg_xact_commit_timestamp(xmin) - ts) FROM event_log"
    ).fetchall()
    return [float(r[0]) for r in rows]


def received_latencies_s(db: psycopg.Connection[Any]) -> list[float]:
    """Seconds from each event's `ts` to its row's `received_at`, which the ingest stamps when
    it starts a batch: before the insert, the rules and the commit (for comparison only)."""
    rows = db.execute("SELECT EXTRACT(EPOCH FROM received_at - ts) FROM event_log").fetchall()
    return [float(r[0]) for r in rows]


def last_commit(db: psycopg.Connection[Any]) -> datetime:
    """When the last event row was committed."""
    row = db.execute("SELECT max(pg_xact_commit_timestamp(xmin)) FROM event_log").fetchone()
    assert row is not None and isinstance(row[0], datetime), "no event stored"
    return row[0]


def resend_with_new_ids(db: psycopg.Connection[Any], port: int, count: int,
                        timeout: float = 60.0) -> int:
    """Publish `count` stored events again under new ids (same edge, seq and content), as a
    faulty edge would; wait until the hub has stored them. Returns how many were re-sent."""
    before = db.execute("SELECT count(*) FROM event_log").fetchone()
    assert before is not None
    rows = db.execute(
        "SELECT site_id, edge, device, kind, seq, ts, data::text FROM event_log"
        " ORDER BY received_at DESC, id LIMIT %s", (count,)).fetchall()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"resend-{new_event_id()}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = []
        for site, edge, device, kind, seq, ts, data in rows:
            body = {"id": new_event_id(), "ts": ts.isoformat(), "site": site, "edge": edge,
                    "device": device, "seq": seq, "kind": kind, "data": json.loads(data)}
            infos.append(client.publish(topics.event(site, edge, kind),
                                        json.dumps(body).encode(), qos=1))
        for info in infos:
            info.wait_for_publish(timeout)
    finally:
        client.disconnect()
        client.loop_stop()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = db.execute("SELECT count(*) FROM event_log").fetchone()
        assert now is not None
        if now[0] >= before[0] + len(rows):
            break
        time.sleep(0.1)
    return len(rows)
