"""A full disk under the edge: the outbox holds events in memory (bounded, losses counted)
and stores them in order once it can write again; free space is watched."""

from __future__ import annotations

from pathlib import Path

from edge.disk import DiskWatch
from edge.outbox import Outbox
from tests.support import disk
from wire import AccessData, parse_event
from wire.stored import payload_digest


def swipe(n: int) -> AccessData:
    return AccessData(door="B1-main", credential=str(n), result="granted", reason="granted",
                      decision_us=5)


def test_a_full_disk_holds_events_in_memory_then_stores_them_in_order(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.db", site="demo", edge="e1")
    box.add_event("B1-main", swipe(0))
    disk.fill(box._db)
    events = [box.add_event("B1-main", swipe(i)) for i in range(1, 301)]  # nothing raises
    assert box.held > 0
    stored_while_full = [m.seq for m in box.pending(limit=1000)]
    assert box.held + len(stored_while_full) == 301
    first = box.pending(limit=1)
    box.confirmed([(m.seq, payload_digest(m.payload)) for m in first])  # nor does a delete

    assert box.retry_held() is False  # still full
    disk.free(box._db)
    assert box.retry_held() is True and box.held == 0 and box.lost == 0
    pending = box.pending(limit=1000)
    assert [m.seq for m in pending] == list(range(2, 302))  # in order, none missing, none twice
    assert [parse_event(m.payload).id for m in pending] == [e.id for e in events]
    box.confirmed([(m.seq, payload_digest(m.payload)) for m in pending])
    assert len(box) == 0
    box.close()

    # the numbering carries on after a reopen, past every number handed out
    box = Outbox(tmp_path / "outbox.db", site="demo", edge="e1")
    assert box.add_event("B1-main", swipe(999)).seq == 302
    box.close()


def test_memory_bound_counts_the_loss_and_keeps_the_newest(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.db", site="demo", edge="e1", held_max=50)
    disk.fill(box._db)
    for i in range(400):
        box.add_event("B1-main", swipe(i))
    written = len(box.pending(limit=1000))
    assert box.held == 50 and box.lost == 400 - written - 50
    disk.free(box._db)
    box.retry_held()
    seqs = [m.seq for m in box.pending(limit=1000)]
    assert seqs[-50:] == list(range(351, 401))  # the newest 50 were kept
    box.close()


def test_disk_watch_reports_low_once_and_back(tmp_path: Path) -> None:
    free = [500_000_000]
    watch = DiskWatch(tmp_path, low_bytes=100_000_000, free=lambda _: free[0])
    assert watch.check() is None
    free[0] = 99_000_000
    assert watch.check() == ("disk_low", 99_000_000)
    assert watch.check() is None  # once, not at every check
    free[0] = 200_000_000
    assert watch.check() == ("disk_ok", 200_000_000)
    real = DiskWatch(tmp_path, low_bytes=0)
    assert real.check() is None and not real.low  # the real free space of tmp_path
