"""signed credentials: resident accounts, phone keys, visitor passes and their uses

Revision ID: 0003
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "resident_accounts",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("resident_id", sa.Integer(),
                  sa.ForeignKey("residents.id", ondelete="CASCADE"), nullable=False),
    )
    op.create_index("ix_resident_accounts_resident_id", "resident_accounts", ["resident_id"])
    op.create_table(
        "phone_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.String(64), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("resident_id", sa.Integer(),
                  sa.ForeignKey("residents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("public_key", sa.String(44), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.UniqueConstraint("public_key"),
    )
    op.create_index("ix_phone_keys_site_id", "phone_keys", ["site_id"])
    op.create_index("ix_phone_keys_resident_id", "phone_keys", ["resident_id"])
    op.create_table(
        "visitor_passes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.String(64), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("units.id"), nullable=False),
        sa.Column("visitor_name", sa.String(200), nullable=False),
        sa.Column("visitor_phone", sa.String(32), nullable=False),
        sa.Column("valid_from", _TS, nullable=False),
        sa.Column("valid_until", _TS, nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("share_code", sa.String(64), nullable=False),
        sa.Column("issued_by", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.UniqueConstraint("share_code"),
    )
    op.create_index("ix_visitor_passes_site_id", "visitor_passes", ["site_id"])
    op.create_index("ix_visitor_passes_unit_id", "visitor_passes", ["unit_id"])
    op.create_table(
        "visitor_pass_doors",
        sa.Column("pass_id", sa.Integer(),
                  sa.ForeignKey("visitor_passes.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("door_id", sa.Integer(), sa.ForeignKey("doors.id", ondelete="CASCADE"),
                  primary_key=True),
    )
    op.create_table(
        "visitor_pass_uses",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("pass_id", sa.Integer(),
                  sa.ForeignKey("visitor_passes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("door", sa.String(64), nullable=False),
        sa.Column("ts", _TS, nullable=False),
    )
    op.create_index("ix_visitor_pass_uses_pass_id", "visitor_pass_uses", ["pass_id"])


def downgrade() -> None:
    op.drop_table("visitor_pass_uses")
    op.drop_table("visitor_pass_doors")
    op.drop_table("visitor_passes")
    op.drop_table("phone_keys")
    op.drop_table("resident_accounts")
