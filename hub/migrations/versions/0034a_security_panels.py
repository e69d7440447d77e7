"""home security: a unit's alarm panel (the installed device, delays, schedule, arm state)

Revision ID: 0034a
Revises: 0019a
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034a"
down_revision: str | None = "0019a"  # the installed devices (devices.edge_id …)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "security_panels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("edge", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("exit_delay_s", sa.Float(), nullable=False),
        sa.Column("entry_delay_s", sa.Float(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=True),
        sa.Column("camera", sa.String(length=64), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("mode_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mode_by", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unit_id"),
        sa.UniqueConstraint("device_id"),
    )
    op.create_index("ix_security_panels_site_id", "security_panels", ["site_id"])


def downgrade() -> None:
    op.drop_index("ix_security_panels_site_id", table_name="security_panels")
    op.drop_table("security_panels")
