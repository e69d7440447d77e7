"""guard patrol: guards' cards, read at door readers in checkpoint mode

Revision ID: 0029b
Revises: 0029a
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029b"
down_revision: str | None = "0029a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patrol_guard_cards",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.String(64), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("card_number", sa.String(32), nullable=False),
        sa.UniqueConstraint("site_id", "card_number"),
    )
    op.create_index("ix_patrol_guard_cards_user_id", "patrol_guard_cards", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_patrol_guard_cards_user_id", table_name="patrol_guard_cards")
    op.drop_table("patrol_guard_cards")
