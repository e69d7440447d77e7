from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import inspect

from hub.db import alembic_config, downgrade, run_migrations, sync_url
from hub.models import Base

pytestmark = pytest.mark.integration


def test_sync_url() -> None:
    assert sync_url("sqlite+aiosqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    pg = "postgresql+psycopg://u:p%40ss@h:5432/db"
    assert sync_url(pg) == pg


def test_migrate_up_matches_models_then_down(db_url: str) -> None:
    run_migrations(db_url)
    engine = create_sync_engine(sync_url(db_url))
    try:
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
        command.check(alembic_config(db_url))  # raises if autogenerate would emit anything
        run_migrations(db_url)  # a second upgrade is a no-op
        downgrade(db_url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        run_migrations(db_url)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
