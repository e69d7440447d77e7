"""vehicles: households' vehicles, visitor-car passes, blocked plates, vehicle stays

Revision ID: 0027a
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027a"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "vehicles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("colour", sa.String(length=16), nullable=True),
        _when("valid_from"), _when("valid_until"),
        sa.Column("lanes", sa.JSON(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        _when("created_at", nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "plate", name="uq_vehicles_site_plate"),
    )
    op.create_index("ix_vehicles_site_id", "vehicles", ["site_id"])
    op.create_index("ix_vehicles_household_id", "vehicles", ["household_id"])
    op.create_table(
        "vehicle_passes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=False),
        _when("valid_from", nullable=False), _when("valid_until", nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        _when("created_at", nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_vehicle_passes_site_id", "vehicle_passes", ["site_id"])
    op.create_index("ix_vehicle_passes_household_id", "vehicle_passes", ["household_id"])
    op.create_index("ix_vehicle_passes_plate", "vehicle_passes", ["plate"])
    op.create_table(
        "blocked_plates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        _when("created_at", nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "plate", name="uq_blocked_plates_site_plate"),
    )
    op.create_index("ix_blocked_plates_site_id", "blocked_plates", ["site_id"])
    op.create_table(
        "vehicle_stays",
        sa.Column("entry_event_id", sa.String(length=36), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("lane", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("pass_id", sa.Integer(), nullable=True),
        _when("entered_at", nullable=False), _when("left_at"),
        sa.Column("exit_event_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.PrimaryKeyConstraint("entry_event_id"),
    )
    op.create_index("ix_vehicle_stays_site_id", "vehicle_stays", ["site_id"])
    op.create_index("ix_vehicle_stays_site_plate_open", "vehicle_stays",
                    ["site_id", "plate", "left_at"])


def downgrade() -> None:
    op.drop_table("vehicle_stays")
    op.drop_table("blocked_plates")
    op.drop_table("vehicle_passes")
    op.drop_table("vehicles")
