"""Migration 0018a (edge configurations): up over the registry's edges, down, and up again."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import inspect, text

from hub.db import downgrade, run_migrations, sync_url

pytestmark = pytest.mark.integration

CONFIG_COLUMNS = {"config_version_held", "config_refused_version", "config_refused"}


def test_upgrade_keeps_the_edges_then_downgrades(db_url: str) -> None:
    run_migrations(db_url, "0016")
    engine = create_sync_engine(sync_url(db_url))
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO sites (id, name, timezone) VALUES ('s', 'S', 'UTC')"))
            conn.execute(text("INSERT INTO edges (site_id, name, status) VALUES ('s', 'e', 'online')"))
        run_migrations(db_url, "0018a")
        columns = {c["name"] for c in inspect(engine).get_columns("edges")}
        assert columns >= CONFIG_COLUMNS
        with engine.begin() as conn:
            edge_id = conn.execute(text("SELECT id FROM edges")).scalar_one()
            conn.execute(text("INSERT INTO edge_config_versions VALUES (:e, 3, :h, "
                              "'2026-12-04 08:00:00')"), {"e": edge_id, "h": "0" * 64})
            conn.execute(text("UPDATE edges SET config_version_held = 2, config_refused = 'x'"))
        downgrade(db_url, "0018a@-1")
        assert not CONFIG_COLUMNS & {c["name"] for c in inspect(engine).get_columns("edges")}
        assert "edge_config_versions" not in inspect(engine).get_table_names()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM edges")).scalar_one() == "e"
        run_migrations(db_url)  # and up again, to every head
        assert {c["name"] for c in inspect(engine).get_columns("edges")} >= CONFIG_COLUMNS
    finally:
        engine.dispose()
