"""the reader's vocabulary: card + PIN doors, residents' PINs (hashed), the site's card format

Revision ID: 0020a
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020a"
down_revision: str | None = "0001"  # sites, residents, doors
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("doors") as batch:
        batch.add_column(sa.Column("pin_required", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.create_table(
        "resident_pins",
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("pin_hash", sa.String(128), nullable=False),
        sa.Column("duress_hash", sa.String(128), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.PrimaryKeyConstraint("resident_id"),
    )
    op.create_index("ix_resident_pins_site_id", "resident_pins", ["site_id"])
    op.create_table(
        "card_formats",
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("wiegand", sa.String(16), nullable=False),
        sa.Column("check_facility", sa.Boolean(), nullable=False),
        sa.Column("facility_codes", sa.String(400), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id"),
    )


def downgrade() -> None:
    op.drop_table("card_formats")
    op.drop_index("ix_resident_pins_site_id", table_name="resident_pins")
    op.drop_table("resident_pins")
    with op.batch_alter_table("doors") as batch:
        batch.drop_column("pin_required")
