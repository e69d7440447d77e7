"""login attempts counted per address too (across usernames)

Revision ID: 0024a
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0024a"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # the per-address limit reads one address's attempts of the last minute
    op.create_index("ix_login_failures_address", "login_failures", ["address", "failed_at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_address", table_name="login_failures")
