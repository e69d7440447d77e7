"""Migration 0041a (companies above sites): the sites and users of a hub from before go into
the default company, and its platform admin stays the platform's."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text

from hub.db import downgrade, run_migrations, sync_url

pytestmark = pytest.mark.integration


def test_existing_sites_go_into_the_default_company(db_url: str) -> None:
    run_migrations(db_url, "0004")
    engine = create_sync_engine(sync_url(db_url))
    try:
        with engine.begin() as conn:
            for site in ("sunrise", "moonbay"):
                conn.execute(text("INSERT INTO sites (id, name, timezone) "
                                  "VALUES (:s, :s, 'Asia/Shanghai')"), {"s": site})
            conn.execute(text(
                "INSERT INTO users (username, password_hash, role, site_id, created_at) VALUES "
                "('admin', 'x', 'admin', NULL, '2026-01-01 00:00:00'), "
                "('mgr', 'x', 'manager', 'sunrise', '2026-01-01 00:00:00')"))
        run_migrations(db_url, "0041a")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id, name FROM companies")).all() == [
                ("default", "Default company")]
            assert dict(conn.execute(text("SELECT id, company_id FROM sites")).all()) == {
                "sunrise": "default", "moonbay": "default"}
            assert dict(conn.execute(text("SELECT username, company_id FROM users")).all()) == {
                "admin": None, "mgr": None}
        with engine.begin() as conn:  # a site added later names its company, or the default
            conn.execute(text("INSERT INTO sites (id, name, timezone) VALUES ('x', 'X', 'UTC')"))
            assert conn.execute(text("SELECT company_id FROM sites WHERE id = 'x'")).scalar() == \
                "default"
        downgrade(db_url, "0004")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM sites")).scalar() == 3
    finally:
        engine.dispose()
