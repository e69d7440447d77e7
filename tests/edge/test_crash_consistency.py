"""kill -9 the edge while it writes: its outbox and permission cache reopen consistent."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from edge.access.cache import PermissionCache
from edge.outbox import Outbox
from wire import parse_event

pytestmark = pytest.mark.slow

WRITER = textwrap.dedent("""
    import sys, itertools
    from datetime import datetime, timezone
    from pathlib import Path
    import wire
    from wire.stored import payload_digest
    from edge.outbox import Outbox
    from edge.access.cache import PermissionCache

    folder = Path(sys.argv[1])
    box = Outbox(folder / "outbox.db", site="demo", edge="e1")
    cache = PermissionCache(folder / "permissions.db")
    print("ready", flush=True)
    for version in itertools.count(1):
        cards = [wire.CardCredential(card=str(100000 + version * 10 + i), groups=[1])
                 for i in range(2000)]
        content = wire.SnapshotContent(
            site="demo", edge="e1", doors=[wire.DoorInfo(id="d1", name="d1")],
            groups=[wire.AccessGroupRule(id=1, doors=["d1"])], credentials=cards)
        cache.apply(wire.PermissionSnapshot.build(content, version, datetime.now(timezone.utc)))
        for _ in range(20):
            box.add_event("d1", wire.AccessData(door="d1", credential="1", result="denied",
                                                reason="unknown_card", decision_us=1))
        box.confirmed([(s.seq, payload_digest(s.payload)) for s in box.pending(limit=10)])
""")


@pytest.mark.parametrize("kill_after", [0.4, 0.9, 1.5])
def test_kill_9_mid_write_leaves_consistent_stores(tmp_path: Path, kill_after: float) -> None:
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready", writer.stderr.read() if writer.stderr else ""
    time.sleep(kill_after)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=10)

    for name in ("outbox.db", "permissions.db"):
        with sqlite3.connect(tmp_path / name) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    box = Outbox(tmp_path / "outbox.db", site="demo", edge="e1")
    pending = box.pending(limit=100_000)
    seqs = [m.seq for m in pending]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(parse_event(m.payload).seq == m.seq for m in pending)
    # numbering goes on after the last number ever given, never reusing one
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        counter = db.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0]
    assert counter >= (seqs[-1] if seqs else 1)
    from wire import AccessData

    after = box.add_event("d1", AccessData(door="d1", credential="1", result="denied",
                                            reason="unknown_card", decision_us=1))
    assert after.seq == counter + 1
    box.close()

    cache = PermissionCache(tmp_path / "permissions.db")
    try:
        assert cache.version >= 1
        state = cache.state
        assert state is not None
        # a whole snapshot: exactly the 2000 cards of the version it claims to be
        cards = sorted(int(c) for c in state.credentials)
        assert len(cards) == 2000
        assert cards[0] == 100000 + cache.version * 10
    finally:
        cache.close()
