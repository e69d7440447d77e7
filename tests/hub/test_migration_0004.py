"""Migration 0004 (people) over a database that already holds residents and cards."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text

from hub.db import downgrade, run_migrations, sync_url

pytestmark = pytest.mark.integration


def test_upgrade_keeps_residents_and_cards_then_downgrades(db_url: str) -> None:
    run_migrations(db_url, "0001")
    engine = create_sync_engine(sync_url(db_url))
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.execute(text("PRAGMA foreign_keys=ON"))  # as the hub runs it
            conn.execute(text("INSERT INTO sites (id, name, timezone) VALUES ('s', 'S', 'UTC')"))
            conn.execute(
                text("INSERT INTO buildings (id, site_id, code, name) VALUES (1, 's', 'B1', 'B')")
            )
            conn.execute(text("INSERT INTO units (id, building_id, number) VALUES (1, 1, '101')"))
            conn.execute(
                text(
                    "INSERT INTO residents (id, site_id, unit_id, name, created_at, updated_at) "
                    "VALUES (1, 's', 1, '张伟', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO card_credentials (id, site_id, resident_id, card_number, status, "
                    "created_at, updated_at) VALUES (1, 's', 1, '1001', 'active', CURRENT_TIMESTAMP, "
                    "CURRENT_TIMESTAMP)"
                )
            )
        run_migrations(db_url, "0004")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT card_number FROM card_credentials")).all() == [
                ("1001",)
            ]
            row = conn.execute(
                text("SELECT name, household_id, type, id_number FROM residents")
            ).one()
            assert tuple(row) == ("张伟", None, None, None)
            assert conn.execute(text("SELECT status, area FROM units")).one() == ("vacant", None)
        downgrade(db_url, "0001")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM card_credentials")).scalar() == 1
            assert conn.execute(text("SELECT name FROM residents")).scalar() == "张伟"
    finally:
        engine.dispose()
