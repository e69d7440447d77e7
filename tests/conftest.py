from __future__ import annotations

import asyncio
import gc
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.services import MosquittoServer, PostgresServer


@pytest.fixture
def mosquitto() -> Iterator[MosquittoServer]:
    server = MosquittoServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database for one test (SQLAlchemy URL, psycopg driver)."""
    return postgres_server.create_database(f"t_{uuid.uuid4().hex[:12]}")


# pytest-timeout prints every thread's stack, which shows an event loop idling in select()
# and not which await never returned. Shortly before a test's limit, print the stack of every
# task of the event loops then running: the hang's await is among them.
_TASK_DUMP = pytest.StashKey[threading.Timer]()
TASK_DUMP_LEAD_S = 3.0


@pytest.hookimpl(hookwrapper=True, optionalhook=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> Iterator[None]:
    yield
    if settings.timeout and settings.timeout > 2 * TASK_DUMP_LEAD_S:
        timer = threading.Timer(settings.timeout - TASK_DUMP_LEAD_S, _print_tasks, (item.nodeid,))
        timer.daemon = True
        timer.start()
        item.stash[_TASK_DUMP] = timer


@pytest.hookimpl(hookwrapper=True, optionalhook=True)
def pytest_timeout_cancel_timer(item: pytest.Item) -> Iterator[None]:
    yield
    timer = item.stash.get(_TASK_DUMP, None)
    if timer is not None:
        timer.cancel()


def _print_tasks(nodeid: str) -> None:
    loops = [o for o in gc.get_objects()
             if isinstance(o, asyncio.AbstractEventLoop) and o.is_running()]
    out = sys.stderr
    print(f"\n+++ {nodeid}: {TASK_DUMP_LEAD_S:.0f} s before its time limit, the asyncio "
          f"tasks of {len(loops)} running loop(s) +++", file=out)
    for loop in loops:
        try:
            tasks = list(asyncio.all_tasks(loop))
        except RuntimeError:  # the set changed while read from this thread; once more
            tasks = list(asyncio.all_tasks(loop))
        for task in tasks:
            print(f"--- task {task.get_name()!r}: {task.get_coro()!r}", file=out)
            task.print_stack(limit=20, file=out)
    out.flush()
