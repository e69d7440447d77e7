"""parking spaces per household (owned / rented) and the site's over_spaces setting

Revision ID: 0032b
Revises: 0027b
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032b"
down_revision: str | None = "0027b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parking_spaces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "code", name="uq_parking_spaces_site_code"),
    )
    op.create_index("ix_parking_spaces_site_id", "parking_spaces", ["site_id"])
    op.create_index("ix_parking_spaces_household_id", "parking_spaces", ["household_id"])
    with op.batch_alter_table("vehicle_site_settings") as batch:
        batch.add_column(sa.Column("over_spaces", sa.String(length=10), nullable=False,
                                   server_default="temporary"))


def downgrade() -> None:
    with op.batch_alter_table("vehicle_site_settings") as batch:
        batch.drop_column("over_spaces")
    op.drop_table("parking_spaces")
