"""guard patrol: checkpoints, routes and stops, guards' phone keys, rounds, readings, exceptions

Revision ID: 0029a
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029a"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "patrol_checkpoints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.String(64), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_zh", sa.String(200)),
        sa.Column("location", sa.String(200)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("secret", sa.String(64)),
        sa.Column("door_id", sa.Integer(), sa.ForeignKey("doors.id", ondelete="SET NULL")),
        sa.UniqueConstraint("site_id", "code"),
    )
    op.create_table(
        "patrol_routes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.String(64), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_zh", sa.String(200)),
        sa.Column("every_min", sa.Integer()),
        sa.Column("from_hour", sa.Integer()),
        sa.Column("to_hour", sa.Integer()),
        sa.UniqueConstraint("site_id", "code"),
    )
    op.create_table(
        "patrol_route_stops",
        sa.Column("route_id", sa.Integer(),
                  sa.ForeignKey("patrol_routes.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("checkpoint_id", sa.Integer(), sa.ForeignKey("patrol_checkpoints.id"),
                  nullable=False),
        sa.Column("allowance_s", sa.Integer(), nullable=False),
    )
    op.create_table(
        "patrol_guard_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("public_key", sa.String(44), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS),
        sa.UniqueConstraint("public_key"),
    )
    op.create_index("ix_patrol_guard_keys_user_id", "patrol_guard_keys", ["user_id"])
    op.create_table(
        "patrol_rounds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.String(64), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("route_id", sa.Integer(), sa.ForeignKey("patrol_routes.id"), nullable=False),
        sa.Column("guard", sa.String(64)),
        sa.Column("scheduled_for", TS),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("deadline", TS, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("finished_at", TS),
        sa.UniqueConstraint("route_id", "scheduled_for"),
    )
    op.create_index("ix_patrol_rounds_site_id", "patrol_rounds", ["site_id"])
    op.create_index("ix_patrol_rounds_state_deadline", "patrol_rounds", ["state", "deadline"])
    op.create_table(
        "patrol_readings",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("round_id", sa.Integer(),
                  sa.ForeignKey("patrol_rounds.id", ondelete="CASCADE"), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), sa.ForeignKey("patrol_checkpoints.id"),
                  nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("guard", sa.String(64), nullable=False),
        sa.Column("ts", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("out_of_order", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("round_id", "checkpoint_id"),
    )
    op.create_index("ix_patrol_readings_round_id", "patrol_readings", ["round_id"])
    op.create_table(
        "patrol_exceptions",
        sa.Column("round_id", sa.Integer(),
                  sa.ForeignKey("patrol_rounds.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("alarm_id", sa.Integer()),
    )


def downgrade() -> None:
    for table in ("patrol_exceptions", "patrol_readings", "patrol_rounds", "patrol_guard_keys",
                  "patrol_route_stops", "patrol_routes", "patrol_checkpoints"):
        op.drop_table(table)
