"""people: households; unit area and status; resident household, type and ID number;
user household scope and disabling

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-23 15:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _add_household_ref(table: str) -> None:
    """A nullable `household_id` referencing households. SQLite takes an inline REFERENCES in
    ADD COLUMN but no ALTER of constraints, and a batch rebuild of `residents` would
    cascade-delete its cards when foreign keys are on; so spell it out there."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN household_id INTEGER REFERENCES households (id)"
        )
    else:
        op.add_column(
            table,
            sa.Column("household_id", sa.Integer(), sa.ForeignKey("households.id"), nullable=True),
        )


def upgrade() -> None:
    op.create_table(
        "households",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unit_id"),
    )
    op.create_index("ix_households_site_id", "households", ["site_id"], unique=False)
    op.add_column("units", sa.Column("area", sa.Float(), nullable=True))
    op.add_column(
        "units", sa.Column("status", sa.String(length=16), nullable=False, server_default="vacant")
    )
    _add_household_ref("residents")
    op.add_column("residents", sa.Column("type", sa.String(length=16), nullable=True))
    op.add_column("residents", sa.Column("id_number", sa.String(length=32), nullable=True))
    op.create_index("ix_residents_household_id", "residents", ["household_id"], unique=False)
    _add_household_ref("users")
    op.add_column("users", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled_at")
        batch.drop_column("household_id")
    op.drop_index("ix_residents_household_id", table_name="residents")
    with op.batch_alter_table("residents") as batch:
        batch.drop_column("id_number")
        batch.drop_column("type")
        batch.drop_column("household_id")
    with op.batch_alter_table("units") as batch:
        batch.drop_column("status")
        batch.drop_column("area")
    op.drop_index("ix_households_site_id", table_name="households")
    op.drop_table("households")
