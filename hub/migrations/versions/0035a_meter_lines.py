"""meters read by the edge from its configuration: a DL/T 645 meter's line; billing readings

Revision ID: 0035a
Revises: 0028a, 0019a
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035a"
down_revision: str | tuple[str, ...] | None = ("0028a", "0019a")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meters") as batch:
        batch.add_column(sa.Column("line_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_meters_line_id", "lines", ["line_id"], ["id"])
    with op.batch_alter_table("meter_readings") as batch:
        batch.add_column(sa.Column("billing", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("meter_readings") as batch:
        batch.drop_column("billing")
    with op.batch_alter_table("meters") as batch:
        batch.drop_constraint("fk_meters_line_id", type_="foreignkey")
        batch.drop_column("line_id")
