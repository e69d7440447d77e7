"""Alembic environment: runs with a synchronous engine (sqlite or postgresql+psycopg)."""

from __future__ import annotations

import logging.config

from alembic import context
from sqlalchemy import engine_from_config, pool, text

from hub.history.ddl import is_partition_name
from hub.schema import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = metadata  # every table, the domains' too
# Two hub workers starting together must not both run the same migration.
_PG_MIGRATION_LOCK = 0x4C494E54  # "LINT"


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """The event tables' partitions are the hub's to make and drop, not the models'."""
    return not (type_ == "table" and is_partition_name(name))


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        connectable = engine_from_config(
            config.get_section(config.config_ini_section, {}),
            prefix="sqlalchemy.",
            poolclass=pool.NullPool,
        )
    with connectable.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=sqlite,  # SQLite cannot ALTER most things in place
            compare_type=True,
            include_name=include_name,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
