"""maintenance by the rules of the trade: several cycles per device (TSG T5002-2017 for lifts,
GB 25201-2010 for fire facilities) and a checklist on each preventive work order

Revision ID: 0021b
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021b"
down_revision: str | None = "0008"  # work_orders
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "maintenance_cycles",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("device_id", sa.Integer(), sa.ForeignKey("devices.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("last_done_on", sa.Date(), nullable=True),
        sa.Column("next_due_on", sa.Date(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("device_id", "name", name="uq_maintenance_cycles_name"),
    )
    op.create_index("ix_maintenance_cycles_device_id", "maintenance_cycles", ["device_id"])
    op.create_index("ix_maintenance_cycles_next_due_on", "maintenance_cycles", ["next_due_on"])
    with op.batch_alter_table("work_orders") as batch:
        batch.add_column(sa.Column("checklist", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("work_orders") as batch:
        batch.drop_column("checklist")
    op.drop_table("maintenance_cycles")
