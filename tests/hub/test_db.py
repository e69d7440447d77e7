from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import inspect

from hub.db import alembic_config, downgrade, run_migrations, sync_url
from hub.history import is_partition_name
from hub.schema import metadata

pytestmark = pytest.mark.integration


def test_sync_url() -> None:
    assert sync_url("sqlite+aiosqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    pg = "postgresql+psycopg://u:p%40ss@h:5432/db"
    assert sync_url(pg) == pg


def test_migrate_up_matches_models_then_down(db_url: str) -> None:
    run_migrations(db_url)
    engine = create_sync_engine(sync_url(db_url))
    try:
        assert set(metadata.tables) <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            # the partitions of the event tables (PostgreSQL) are the hub's, not the models'
            ctx = MigrationContext.configure(conn, opts={
                "compare_type": True,
                "include_name": lambda name, kind, _: not (kind == "table"
                                                           and is_partition_name(name))})
            assert compare_metadata(ctx, metadata) == []
        command.check(alembic_config(db_url))  # raises if autogenerate would emit anything
        run_migrations(db_url)  # a second upgrade is a no-op
        downgrade(db_url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        run_migrations(db_url)
        assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


DOMAINS = ("hub.rules.models", "hub.workorders.models", "hub.cameras.models",
           "hub.login_throttle", "hub.door_states", "hub.readers.models", "hub.audit")


def _fresh_import(module: str) -> list[str]:
    """The modules loaded by importing `module` first, in a new interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; print(*sorted(sys.modules))"],
        capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_core_models_import_no_domain() -> None:
    """hub.models is the bottom layer: the domains' models import it, never the reverse."""
    loaded = _fresh_import("hub.models")
    assert [m for m in loaded if m.startswith(tuple(d.rsplit(".models", 1)[0] for d in DOMAINS))
            ] == []


@pytest.mark.parametrize("module", DOMAINS)
def test_each_domains_models_import_first(module: str) -> None:
    """With the old cycle, `import hub.login_throttle` first failed half-initialised."""
    assert module in _fresh_import(module)


def test_the_schema_holds_every_domains_tables() -> None:
    assert {"alarms", "work_orders", "camera_alerts", "login_failures", "sites"} <= set(
        metadata.tables)


def test_the_alembic_ini_command_upgrades_every_head(tmp_path: Path) -> None:
    """The command alembic.ini and the operator's manual give (`upgrade heads`) brings a
    database to every head of the branching tree; `upgrade head` would refuse."""
    ini = Path(__file__).resolve().parents[2] / "hub" / "migrations" / "alembic.ini"
    documented = re.search(r"^#\s+alembic -c hub/migrations/alembic\.ini (.+)$",
                           ini.read_text(), re.MULTILINE)
    assert documented is not None and documented[1].split() == ["upgrade", "heads"]
    config = Config(str(ini))
    config.set_main_option("sqlalchemy.url", f"sqlite:///{tmp_path / 'hub.db'}")
    heads = set(ScriptDirectory.from_config(config).get_heads())
    assert len(heads) > 1  # by design: hence `heads`
    with pytest.raises(CommandError, match="Multiple head revisions"):
        command.upgrade(config, "head")
    command.upgrade(config, *documented[1].split()[1:])
    command.check(config)  # raises unless every head is applied and the models match
