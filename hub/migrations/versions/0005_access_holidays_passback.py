"""access groups: holiday calendar and modes, anti-passback pairs, unlock-on-schedule doors

Revision ID: 0005
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "holidays",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "day"),
    )
    op.create_index("ix_holidays_site_id", "holidays", ["site_id"], unique=False)
    op.create_table(
        "anti_passback_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("entry_door_id", sa.Integer(), nullable=False),
        sa.Column("exit_door_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("reset_s", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.ForeignKeyConstraint(["entry_door_id"], ["doors.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["exit_door_id"], ["doors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "name"),
    )
    op.create_index(
        "ix_anti_passback_pairs_site_id", "anti_passback_pairs", ["site_id"], unique=False
    )
    # batch mode: SQLite cannot add a foreign key or widen a column in place
    with op.batch_alter_table("access_groups") as batch:
        batch.add_column(
            sa.Column("holiday_mode", sa.String(length=16), nullable=False,
                      server_default="normal")
        )
        batch.add_column(sa.Column("holiday_schedule_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_access_groups_holiday_schedule", "schedules", ["holiday_schedule_id"], ["id"]
        )
    with op.batch_alter_table("doors") as batch:
        batch.alter_column("mode", type_=sa.String(length=24), existing_type=sa.String(length=16),
                           existing_nullable=False)
        batch.add_column(sa.Column("unlock_schedule_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_doors_unlock_schedule", "schedules", ["unlock_schedule_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("doors") as batch:
        batch.drop_constraint("fk_doors_unlock_schedule", type_="foreignkey")
        batch.drop_column("unlock_schedule_id")
        batch.alter_column("mode", type_=sa.String(length=16), existing_type=sa.String(length=24),
                           existing_nullable=False)
    with op.batch_alter_table("access_groups") as batch:
        batch.drop_constraint("fk_access_groups_holiday_schedule", type_="foreignkey")
        batch.drop_column("holiday_schedule_id")
        batch.drop_column("holiday_mode")
    op.drop_index("ix_anti_passback_pairs_site_id", table_name="anti_passback_pairs")
    op.drop_table("anti_passback_pairs")
    op.drop_index("ix_holidays_site_id", table_name="holidays")
    op.drop_table("holidays")
