"""Schemathesis over /api/v1/openapi.json against a live hub API on SQLite, as an admin.

Bounded: a few examples per operation and an overall time limit. Every answer must be no 5xx
and must match the document (status code documented, body valid against its schema)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from harness.downlink import SIGNER
from hub.api import create_app
from hub.commands import CommandSender
from hub.db import create_engine, create_sessionmaker, migrate
from hub.seed import seed_demo
from hub.service import bootstrap_admin
from tests.hub.api.conftest import NoBroker
from tests.support.services import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
PASSWORD = "correct horse battery staple"
TIME_LIMIT_S = 150.0
EXAMPLES = 15


class _Publisher:
    def registry_changed(self, site_id: str, edges: Any = None, residents: Any = None) -> None:
        pass


@pytest.fixture
def live_api(tmp_path: Path) -> Iterator[str]:
    """The API app served by a real aiohttp server on its own thread and event loop."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    port = free_port()
    ready = threading.Event()
    stop: list[asyncio.Event] = []
    loop_box: list[asyncio.AbstractEventLoop] = []

    async def serve() -> None:
        await migrate(url)
        engine = create_engine(url)
        sessions = create_sessionmaker(engine)
        await seed_demo(sessions)
        await bootstrap_admin(sessions, "admin", PASSWORD)
        commands = CommandSender(sessions, NoBroker(), SIGNER)  # type: ignore[arg-type]
        runner = web.AppRunner(create_app(sessions=sessions, publisher=_Publisher(),
                                          commands=commands))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        stop.append(asyncio.Event())
        loop_box.append(asyncio.get_running_loop())
        ready.set()
        try:
            await stop[0].wait()
        finally:
            await runner.cleanup()
            await engine.dispose()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(60), "the API did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop_box[0].call_soon_threadsafe(stop[0].set)
        thread.join(30)


def test_api_matches_its_openapi_document(live_api: str) -> None:
    import requests

    login = requests.post(f"{live_api}/api/v1/auth/login",
                          json={"username": "admin", "password": PASSWORD}, timeout=10)
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    schema = schemathesis.openapi.from_url(f"{live_api}/api/v1/openapi.json")
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    deadline = time.monotonic() + TIME_LIMIT_S
    tested: list[str] = []
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if time.monotonic() > deadline:
            break
        if operation.path.endswith("/auth/logout"):
            continue  # would revoke the token the rest of the run uses

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            # a loaded machine (CI runs three workers) can take seconds to answer: a timeout here
            # would read as a flaky operation, not as the server's failure
            response = case.call(base_url=live_api, headers=headers, timeout=60)
            case.validate_response(response, checks=checks)

        try:
            run()
        except (AssertionError, BaseExceptionGroup) as exc:  # report every operation's failures
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
        tested.append(operation.label)
    assert len(tested) >= 30, tested  # the run covered the API, not just a corner of it
    assert not failures, "\n\n".join(failures)
