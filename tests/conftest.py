from __future__ import annotations

import uuid
from collections.abc import Iterator

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
